package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
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
	return l, l.startServers()
}

// startServers opens every listener; each is serving when its start returns.
func (l *Lab) startServers() error {
	internet, router := l.Topology.Internet, l.Topology.Router
	sites, err := startWeb(internet, "0.0.0.0", &siteHandler{world: l.World, altSvc: true}, l.CA.TLSConfig(), true)
	if err != nil {
		return err
	}
	l.onClose(sites.Close)
	honest, err := startDNS(internet, HonestResolver.String(), newResolver(l.World))
	if err != nil {
		return err
	}
	l.onClose(honest.Close)
	l.ispResolver = newResolver(l.World)
	isp, err := startDNS(router, RouterAddr.String(), l.ispResolver)
	if err != nil {
		return err
	}
	l.onClose(isp.Close)
	return l.startCensorServices()
}

// startCensorServices starts the router's blockpage server and TLS interceptor;
// they receive traffic only once a block redirects some to them.
func (l *Lab) startCensorServices() error {
	router := l.Topology.Router
	bp, err := router.Listen("tcp4", net.JoinHostPort(RouterAddr.String(), fmt.Sprint(blockpagePort)))
	if err != nil {
		return err
	}
	mitm, err := router.Listen("tcp4", net.JoinHostPort(RouterAddr.String(), fmt.Sprint(interceptorPort)))
	if err != nil {
		bp.Close()
		return err
	}
	ws := &webServers{}
	ws.serve(bp, blockpageHandler())
	ws.serve(tlsListener(mitm, l.NationalCA), &siteHandler{world: l.World})
	l.onClose(ws.Close)
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
