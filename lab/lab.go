//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// Lab is one emulated censored network, with its servers running.
type Lab struct {
	Topology *Topology
	World    *World
	// CA signs every genuine site certificate; the probe trusts it ([tls] roots).
	CA *Authority
	// NationalCA signs the interceptor's certificates; the probe does not trust it.
	NationalCA *Authority
	// Dir is a private directory for files the lab hands to programs (CA file,
	// probe configuration, probe storage); removed by Close.
	Dir string

	ispResolver *resolver
	// warningHost is where "http.redirect" sends the targets' visitors.
	warningHost atomic.Value // string

	mu      sync.Mutex
	closers []func() error // run in reverse order by Close
	closed  bool
}

// Build creates the namespaces and starts every server: web sites, the honest
// resolver, the ISP's resolver, the blockpage server and the TLS interceptor. It
// returns once all of them accept connections. sites adds to the canaries.
func Build(ctx context.Context, sites []Site) (l *Lab, err error) {
	world, err := newWorld(sites)
	if err != nil {
		return nil, err
	}
	l = &Lab{World: world}
	defer func() {
		if err != nil {
			l.Close()
			l = nil
		}
	}()
	if l.Dir, err = os.MkdirTemp("", "vantage-lab-"); err != nil {
		return l, fmt.Errorf("lab: %w", err)
	}
	l.onClose(func() error { return os.RemoveAll(l.Dir) })
	if l.CA, err = NewAuthority("vantage lab root CA"); err != nil {
		return l, err
	}
	if l.NationalCA, err = NewAuthority(NationalCAName); err != nil {
		return l, err
	}
	if err := os.WriteFile(l.CAFile(), l.CA.PEM(), 0o644); err != nil {
		return l, fmt.Errorf("lab: %w", err)
	}
	if l.Topology, err = buildTopology(ctx); err != nil {
		return l, err
	}
	l.onClose(l.Topology.delete)
	if err := l.takeDownSites(ctx); err != nil {
		return l, err
	}
	return l, l.startServers()
}

// takeDownSites makes the hosts of "refused" sites reject connections, for the
// control as for the probe (the rule is on the internet side of the censor).
func (l *Lab) takeDownSites(ctx context.Context) error {
	for _, s := range l.World.Sites() {
		if s.Down != "refused" {
			continue
		}
		for _, proto := range []string{"tcp", "udp"} {
			err := l.Topology.Internet.Run(ctx, "iptables", "-w", "-A", "INPUT", "-d", s.Addr.String(), "-p", proto,
				"-j", "REJECT", "--reject-with", map[string]string{"tcp": "tcp-reset", "udp": "icmp-port-unreachable"}[proto])
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// startServers opens every listener; each is serving when its start returns.
func (l *Lab) startServers() error {
	internet, router := l.Topology.Internet, l.Topology.Router
	handler := &siteHandler{world: l.World, altSvc: true, strict: true}
	sites, err := startWeb(internet, "0.0.0.0", handler, l.CA.TLSConfig(siteCertificate(l.CA, l.World)), true)
	if err != nil {
		return err
	}
	l.onClose(sites.Close)
	honestAnswers := newResolver(l.World)
	honest, err := startDNS(internet, HonestResolver.String(), honestAnswers)
	if err != nil {
		return err
	}
	l.mountDoH(honestAnswers)
	l.onClose(honest.Close)
	l.ispResolver = newResolver(l.World)
	isp, err := startDNS(router, RouterAddr.String(), l.ispResolver)
	if err != nil {
		return err
	}
	l.onClose(isp.Close)
	return l.startCensorServices()
}

// startCensorServices starts the router's blockpage server, altering proxy, TLS
// interceptor and connection closer; they receive traffic only once a block
// redirects some to them.
func (l *Lab) startCensorServices() error {
	router := l.Topology.Router
	listen := func(port int) (net.Listener, error) {
		return router.Listen("tcp4", net.JoinHostPort(RouterAddr.String(), fmt.Sprint(port)))
	}
	ws := &webServers{}
	l.onClose(ws.Close)
	for _, svc := range []struct {
		port    int
		handler http.Handler
		tls     bool
	}{
		{blockpagePort, blockpageHandler(), false},
		{alteredPort, alteredHandler(), false},
		{warningPort, warningHandler(&l.warningHost), false},
		{deniedPort, deniedHandler(), false},
		{interceptorPort, &siteHandler{world: l.World}, true},
	} {
		ln, err := listen(svc.port)
		if err != nil {
			return err
		}
		if svc.tls {
			ln = tlsListener(ln, l.NationalCA)
		}
		ws.serve(ln, svc.handler)
	}
	ln, err := listen(eofPort)
	if err != nil {
		return err
	}
	closer := startCloser(ln)
	l.onClose(closer.Close)
	return nil
}

// CAFile is the lab root in PEM form, for the probe's [tls] roots and the helper.
func (l *Lab) CAFile() string { return filepath.Join(l.Dir, "lab-ca.pem") }

// Apply installs the censor's blocks in order.
func (l *Lab) Apply(ctx context.Context, bs []Block) error {
	for i, b := range bs {
		f, ok := blocks[b.Kind]
		if !ok {
			return fmt.Errorf("lab: censor block %d: unknown kind %q", i+1, b.Kind)
		}
		if err := f(ctx, l, b); err != nil {
			return fmt.Errorf("lab: censor block %d (%s): %w", i+1, b.Kind, err)
		}
	}
	return nil
}

// onClose registers a teardown step.
func (l *Lab) onClose(f func() error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closers = append(l.closers, f)
}

// Close stops every process and server and removes every namespace, rule and file
// of the lab, newest first. It is safe to call more than once.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	closers := l.closers
	l.closers = nil
	l.mu.Unlock()
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		errs = append(errs, closers[i]())
	}
	return errors.Join(errs...)
}
