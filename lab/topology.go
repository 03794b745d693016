//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
)

// Interface names inside the namespaces (each namespace has its own set, so every
// lab can use the same names).
const (
	probeIf     = "eth0" // probe side of the access link
	routerLANIf = "lan0" // router side of the access link
	routerWANIf = "wan0" // router side of the transit link
	internetIf  = "eth0" // internet side of the transit link
	namePrefix  = "vlab"
	transitMask = "/30"
	// linkMTU is large enough for a whole ClientHello (Chrome's, with a
	// post-quantum key share, is about 1.8 KB) in one TCP segment. The xt string
	// match sees one packet at a time; with a 1500-byte MTU a server name that
	// straddles two segments would slip past the SNI blocks, which real DPI
	// boxes, reassembling the hello, do not allow.
	linkMTU      = "9000"
	probeLANMask = "/24"
)

var labCounter atomic.Int64

// newPrefix returns a namespace name prefix unique to this process and call, so
// that labs of one run, and of concurrent runs, never collide.
func newPrefix() string {
	return fmt.Sprintf("%s%d-%d", namePrefix, os.Getpid(), labCounter.Add(1))
}

// PrefixOfProcess is the namespace-name prefix of every lab this process builds;
// the teardown test looks for leftovers with it.
func PrefixOfProcess() string { return fmt.Sprintf("%s%d-", namePrefix, os.Getpid()) }

// Topology is the three namespaces of one lab and the links between them.
type Topology struct {
	Prefix   string
	Probe    *Namespace // the volunteer's machine
	Router   *Namespace // the ISP router, where the censor's rules live
	Internet *Namespace // every server: domestic and foreign ranges
}

// buildTopology creates probe ↔ router ↔ internet. On error it removes whatever it
// created.
func buildTopology(ctx context.Context) (t *Topology, err error) {
	t = &Topology{Prefix: newPrefix()}
	defer func() {
		if err != nil {
			t.delete()
			t = nil
		}
	}()
	for _, slot := range []struct {
		ns   **Namespace
		name string
	}{{&t.Probe, "probe"}, {&t.Router, "isp"}, {&t.Internet, "net"}} {
		ns, err := createNamespace(ctx, t.Prefix+"-"+slot.name)
		if err != nil {
			return t, err
		}
		*slot.ns = ns
	}
	p, r, n := t.Probe.Name, t.Router.Name, t.Internet.Name
	steps := [][]string{
		{"ip", "-n", p, "link", "add", probeIf, "type", "veth", "peer", "name", routerLANIf, "netns", r},
		{"ip", "-n", r, "link", "add", routerWANIf, "type", "veth", "peer", "name", internetIf, "netns", n},
		{"ip", "-n", p, "addr", "add", ProbeAddr.String() + probeLANMask, "dev", probeIf},
		{"ip", "-n", r, "addr", "add", RouterAddr.String() + probeLANMask, "dev", routerLANIf},
		{"ip", "-n", r, "addr", "add", transitRouter.String() + transitMask, "dev", routerWANIf},
		{"ip", "-n", n, "addr", "add", transitInternet.String() + transitMask, "dev", internetIf},
		{"ip", "-n", p, "link", "set", probeIf, "mtu", linkMTU, "up"},
		{"ip", "-n", r, "link", "set", routerLANIf, "mtu", linkMTU, "up"},
		{"ip", "-n", r, "link", "set", routerWANIf, "mtu", linkMTU, "up"},
		{"ip", "-n", n, "link", "set", internetIf, "mtu", linkMTU, "up"},
		{"ip", "-n", p, "route", "add", "default", "via", RouterAddr.String()},
		{"ip", "-n", r, "route", "add", "default", "via", transitInternet.String()},
		{"ip", "-n", n, "route", "add", ProbeLAN.String(), "via", transitRouter.String()},
		// AnyIP: the internet namespace owns both hosting ranges whole, so a
		// server bound to 0.0.0.0 answers on any site address.
		{"ip", "-n", n, "route", "add", "local", Domestic.String(), "dev", "lo"},
		{"ip", "-n", n, "route", "add", "local", Foreign.String(), "dev", "lo"},
	}
	for _, s := range steps {
		if err := run(ctx, s[0], s[1:]...); err != nil {
			return t, err
		}
	}
	if err := t.Router.sysctl("net/ipv4/ip_forward", "1"); err != nil {
		return t, err
	}
	if err := t.Probe.writeResolvConf(RouterAddr.String()); err != nil {
		return t, err
	}
	if err := t.Internet.writeResolvConf(HonestResolver.String()); err != nil {
		return t, err
	}
	return t, nil
}

// delete removes every namespace of the topology.
func (t *Topology) delete() error {
	var errs []error
	for _, ns := range []*Namespace{t.Probe, t.Router, t.Internet} {
		if ns != nil {
			errs = append(errs, ns.delete())
		}
	}
	return errors.Join(errs...)
}

// Leftovers lists namespaces and /etc/netns directories whose name starts with
// prefix: after every lab is closed there must be none.
func Leftovers(prefix string) ([]string, error) {
	var out []string
	names, err := listNamespaces()
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, "netns "+n)
		}
	}
	entries, err := os.ReadDir(etcNetnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("lab: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, etcNetnsDir+"/"+e.Name())
		}
	}
	return out, nil
}

// CleanStale removes the namespaces and /etc/netns directories of labs whose
// process is gone (a crash or a kill -9 skips Close). Labs of live processes are
// left alone. It returns what it removed.
func CleanStale() ([]string, error) {
	all, err := Leftovers(namePrefix)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, item := range all {
		name := filepath.Base(strings.TrimPrefix(item, "netns "))
		pid, ok := labPID(name)
		if !ok || processAlive(pid) {
			continue
		}
		if strings.HasPrefix(item, "netns ") {
			errs = append(errs, run(context.Background(), "ip", "netns", "del", name))
		} else {
			errs = append(errs, os.RemoveAll(item))
		}
		removed = append(removed, item)
	}
	return removed, errors.Join(errs...)
}

// labPID reads the creating process's id from a name "vlab<pid>-<n>-<role>".
func labPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, namePrefix)
	if !ok {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(digits)
	return pid, err == nil && pid > 0
}

func processAlive(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}
