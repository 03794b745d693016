//go:build linux

package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"syscall"

	"github.com/BurntSushi/toml"

	"github.com/vantage-probe/vantage/report/upload/proxytest"
)

// Mount serves h instead of the page of the named site, on every address the
// site is reached at (its own, or a front's): a collector, or a proxy to the
// control helper.
func (l *Lab) Mount(name string, h http.Handler) error {
	s, ok := l.World.Lookup(name)
	if !ok {
		return fmt.Errorf("lab: mount: %q is not a site of this lab", name)
	}
	l.World.mounts.Store(s.Name, h)
	return nil
}

// StartSOCKS5 runs a SOCKS5 proxy at addr in the internet namespace (so the
// censor sees only the probe's connection to the proxy); it connects onwards
// from there. It stops when the lab closes.
func (l *Lab) StartSOCKS5(addr netip.AddrPort) (*proxytest.Proxy, error) {
	ln, err := l.Topology.Internet.Listen("tcp4", addr.String())
	if err != nil {
		return nil, err
	}
	p := proxytest.ServeSOCKS5(ln, l.dialByName)
	l.onClose(p.Close)
	return p, nil
}

// dialByName connects from the internet namespace, resolving a lab name with
// the honest view of the world (as a proxy abroad would). Names outside the lab
// are refused: nothing here may ask a resolver outside the lab.
func (l *Lab) dialByName(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if _, err := netip.ParseAddr(host); err != nil {
		s, ok := l.World.Lookup(host)
		if !ok || s.Down == "nxdomain" {
			return nil, fmt.Errorf("lab: %s is not a site of this lab", host)
		}
		addr = net.JoinHostPort(s.Addr.String(), port)
	}
	return l.Topology.Internet.Dial(ctx, network, addr)
}

// InternetTransport is an HTTP transport whose connections start in the
// internet namespace, for handlers that forward to a lab server (the helper).
func (l *Lab) InternetTransport() *http.Transport {
	return &http.Transport{DialContext: l.dialByName}
}

// BaseProbeConfig is the configuration a scenario run would get (the lab's
// resolver, roots, helper and canaries, storage in the lab's directory), for
// tests that run other commands than run and check.
func (l *Lab) BaseProbeConfig() *ProbeConfig { return l.probeConfig(&Scenario{}) }

// StoreDir is the probe's data directory in BaseProbeConfig.
func (l *Lab) StoreDir() string { return filepath.Join(l.Dir, "store") }

// CommandResult is what one vantage command printed and how it exited.
type CommandResult struct {
	Stdout, Stderr string
	ExitCode       int
}

// RunCommand runs `vantage ARGS --config F` in the probe namespace with cfg
// written to F.
func (l *Lab) RunCommand(ctx context.Context, bin string, cfg *ProbeConfig, args ...string) (*CommandResult, error) {
	cfgPath := filepath.Join(l.Dir, "vantage-cmd.toml")
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(cfg); err != nil {
		return nil, fmt.Errorf("lab: probe config: %w", err)
	}
	if err := os.WriteFile(cfgPath, buf.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	cmd := l.Topology.Probe.Command(ctx, bin, append(args, "--config", cfgPath)...)
	cmd.Env = append(os.Environ(), "HOME="+l.Dir, "XDG_CONFIG_HOME="+l.Dir, "XDG_DATA_HOME="+l.Dir,
		EnvRunMarker+"="+l.Topology.Prefix)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout bytes.Buffer
	stderr := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	err := cmd.Run()
	res := &CommandResult{Stdout: stdout.String(), Stderr: stderr.String()}
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
		return res, nil
	}
	return res, fmt.Errorf("lab: vantage %v: %w", args, err)
}

// mountServices mounts, on every site that serves a lab service, a proxy to it:
// for "helper", to the control helper (which must be running).
func (l *Lab) mountServices() error {
	for _, s := range l.World.Sites() {
		if s.Serves != "helper" {
			continue
		}
		proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: HelperAddr.String()})
		proxy.Transport = l.InternetTransport()
		if err := l.Mount(s.Name, proxy); err != nil {
			return err
		}
	}
	return nil
}
