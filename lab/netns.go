//go:build linux

package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// netnsDir is where iproute2 keeps named network namespaces.
const netnsDir = "/run/netns"

// etcNetnsDir holds per-namespace files that `ip netns exec` bind-mounts over /etc
// (we use it for resolv.conf, so that programs started in a namespace resolve with
// the lab's resolvers).
const etcNetnsDir = "/etc/netns"

// Namespace is a named network namespace created by the lab.
type Namespace struct {
	Name string
}

// createNamespace adds a named namespace with its loopback up and IPv6 off (the lab
// is IPv4 only; stray router solicitations would only add noise).
func createNamespace(ctx context.Context, name string) (*Namespace, error) {
	if err := run(ctx, "ip", "netns", "add", name); err != nil {
		return nil, err
	}
	ns := &Namespace{Name: name}
	err := run(ctx, "ip", "-n", name, "link", "set", "lo", "up")
	if err == nil {
		err = ns.sysctl("net/ipv6/conf/all/disable_ipv6", "1")
	}
	if err == nil {
		err = ns.sysctl("net/ipv6/conf/default/disable_ipv6", "1")
	}
	if err != nil {
		ns.delete()
		return nil, err
	}
	return ns, nil
}

// sysctl sets a network sysctl of the namespace. /proc/sys/net shows the
// namespace of the thread that opens the file, so no sysctl(8) is needed.
func (ns *Namespace) sysctl(key, value string) error {
	err := ns.Do(func() error {
		return os.WriteFile("/proc/sys/"+key, []byte(value), 0o644)
	})
	if err != nil {
		return fmt.Errorf("lab: sysctl %s in %s: %w", key, ns.Name, err)
	}
	return nil
}

// delete removes the namespace and its /etc/netns directory. The kernel frees the
// namespace once the last socket and process inside it are gone.
func (ns *Namespace) delete() error {
	// A fresh context: teardown must run even when the caller's context is done.
	err := run(context.Background(), "ip", "netns", "del", ns.Name)
	if rmErr := os.RemoveAll(filepath.Join(etcNetnsDir, ns.Name)); rmErr != nil && err == nil {
		err = fmt.Errorf("lab: remove %s config: %w", ns.Name, rmErr)
	}
	return err
}

// Run runs a command inside the namespace (ip netns exec) and returns its error
// with its output.
func (ns *Namespace) Run(ctx context.Context, args ...string) error {
	return run(ctx, "ip", append([]string{"netns", "exec", ns.Name}, args...)...)
}

// Command prepares a command that runs inside the namespace.
func (ns *Namespace) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// writeResolvConf makes programs run with Command resolve through addr. In a user
// namespace /etc cannot be written; RootlessReexec points /etc/resolv.conf at the
// honest resolver instead.
func (ns *Namespace) writeResolvConf(addr string) error {
	if os.Getenv(EnvUserns) != "" {
		return nil
	}
	dir := filepath.Join(etcNetnsDir, ns.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	body := fmt.Sprintf("nameserver %s\noptions timeout:1 attempts:2\n", addr)
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte(body), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}

// Do calls fn on an OS thread that has entered the namespace. Sockets created by fn
// stay in the namespace after Do returns. fn must not start goroutines that create
// sockets: only the calling thread is in the namespace.
func (ns *Namespace) Do(fn func() error) error {
	errc := make(chan error, 1)
	// QUIRK: a fresh goroutine, so that if the thread cannot be switched back it is
	// left locked and Go destroys it when the goroutine exits, instead of handing a
	// thread in the wrong namespace to unrelated code.
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("lab: open own netns: %w", err)
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open(filepath.Join(netnsDir, ns.Name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("lab: open netns %s: %w", ns.Name, err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("lab: enter netns %s: %w", ns.Name, err)
			return
		}
		fnErr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(fnErr, fmt.Errorf("lab: leave netns %s: %w", ns.Name, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- fnErr
	}()
	return <-errc
}

// Listen opens a stream listener inside the namespace.
func (ns *Namespace) Listen(network, address string) (net.Listener, error) {
	var l net.Listener
	err := ns.Do(func() (err error) {
		l, err = net.Listen(network, address)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lab: listen %s %s in %s: %w", network, address, ns.Name, err)
	}
	return l, nil
}

// ListenUDP opens a UDP socket inside the namespace.
func (ns *Namespace) ListenUDP(address string) (*net.UDPConn, error) {
	var c *net.UDPConn
	err := ns.Do(func() error {
		addr, err := net.ResolveUDPAddr("udp4", address)
		if err != nil {
			return err
		}
		c, err = net.ListenUDP("udp4", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lab: listen udp %s in %s: %w", address, ns.Name, err)
	}
	return c, nil
}

// Dial opens a connection from inside the namespace. The connect completes on
// another thread, which is fine: the socket already belongs to the namespace.
func (ns *Namespace) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	var c net.Conn
	err := ns.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// run runs a command and folds its output into the error.
func run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("lab: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// listNamespaces returns the names of all named namespaces.
func listNamespaces() ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}
