package webconnectivity

import (
	"context"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
	"github.com/vantage-probe/vantage/probe/netx"
)

// observe runs every step for one URL: the two DNS paths first, then, concurrently,
// the control, TCP and TLS on every address and the fetch; then QUIC where the site
// or the control says it speaks h3. Every step's tries are recorded; nothing here
// judges.
func (m *Measurer) observe(ctx context.Context, trace *netx.Trace, u *url.URL, nc *netx.Client) *Observations {
	o := &Observations{URL: u, Port: urlPort(u), HostIsIP: net.ParseIP(u.Hostname()) != nil}
	host := u.Hostname()

	var wg sync.WaitGroup
	if m.cfg.SecondResolver != "" {
		second := &DNSObservation{Resolver: m.cfg.SecondResolver}
		o.SecondDNS = second
		wg.Go(func() { *second = m.resolve(ctx, nc, trace, m.cfg.SecondResolver, host) })
	}
	o.DNS = m.resolve(ctx, nc, trace, resolverOf(nc), host)

	o.Endpoints = m.plan(u, o.Port, m.reachable(o.DNS.Addrs))
	var primary []string
	for _, ep := range o.Endpoints {
		if strings.HasSuffix(ep.Address, ":"+o.Port) {
			primary = append(primary, ep.Address)
		}
	}

	var controlErr error
	wg.Go(func() {
		var helper string
		o.Control, helper, controlErr = m.control.query(ctx, &thproto.Request{
			HTTPRequest: u.String(), HTTPRequestHeaders: map[string][]string{},
			TCPConnect: primary, XQUICEnabled: m.cfg.QUIC,
		})
		o.ControlHelper = helper
	})
	working, phases := &workingEndpoints{}, &phaseLog{}
	for i := range o.Endpoints {
		ep := &o.Endpoints[i]
		validationOnly := !strings.HasSuffix(ep.Address, ":"+o.Port)
		wg.Go(func() { m.measureEndpoint(ctx, nc, trace, host, ep, validationOnly, working, phases) })
	}
	if len(primary) > 0 {
		wg.Go(func() { o.HTTP = m.fetch(ctx, nc, trace, u, primary[0], working, phases) })
	}
	wg.Wait()
	for i := range o.Endpoints {
		ep := &o.Endpoints[i]
		ep.OtherConnects = phases.of(opConnect, ep.Address)
		if ep.TLS != nil {
			ep.TLS.OtherHandshakes = phases.of(opTLSHandshake, ep.Address)
		}
	}
	if controlErr != nil {
		o.ControlErr = netx.Scrub(controlErr.Error())
	}
	if o.Control != nil && o.Control.XClientIP != "" {
		m.mu.Lock()
		m.clientIPs[o.Control.XClientIP] = true
		m.mu.Unlock()
	}
	o.QUIC = m.measureQUIC(ctx, nc, trace, host, o)
	return o
}

// reachable returns the addresses worth connecting to, at most MaxAddresses: an
// unspecified answer (0.0.0.0, ::) names no host (a connect would reach this
// machine), so it is evidence for the DNS step and nothing more.
func (m *Measurer) reachable(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if bogonClass(a) != "unspecified" && len(out) < m.cfg.MaxAddresses {
			out = append(out, a)
		}
	}
	return out
}

func resolverOf(nc *netx.Client) string {
	if nc.Resolver == "" {
		return "system"
	}
	return nc.Resolver
}

// urlPort returns the URL's explicit port or its scheme's.
func urlPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// plan lists the endpoints: every address on the URL's port (with TLS for https),
// and, for http:// URLs, on the validation port with TLS.
func (m *Measurer) plan(u *url.URL, port string, addrs []string) []EndpointObservation {
	var out []EndpointObservation
	for _, a := range addrs {
		ep := EndpointObservation{Address: net.JoinHostPort(a, port)}
		if u.Scheme == "https" {
			ep.TLS = &TLSObservation{SNI: u.Hostname()}
		}
		out = append(out, ep)
	}
	if u.Scheme == "http" && port != m.cfg.ValidationPort {
		for _, a := range addrs {
			out = append(out, EndpointObservation{Address: net.JoinHostPort(a, m.cfg.ValidationPort), TLS: &TLSObservation{SNI: u.Hostname()}})
		}
	}
	return out
}

// step returns a copy of nc whose step timeout is the estimator's budget now: each
// step reads it afresh, so a URL measured while the first answers arrive already
// benefits from them.
func (m *Measurer) step(nc *netx.Client) *netx.Client {
	c := *nc
	c.Timeout = m.rtt.StepTimeout(m.cfg.Timeouts)
	return &c
}

// timed runs f and feeds the estimator with its duration when it succeeded.
func (m *Measurer) timed(f func() error) error {
	start := m.now()
	err := f()
	if err == nil {
		m.rtt.Add(m.now().Sub(start))
	}
	return err
}

// now is the environment's clock.
func (m *Measurer) now() time.Time {
	if m.env.Now != nil {
		return m.env.Now()
	}
	return time.Now()
}

func failureOf(err error) string {
	if err == nil {
		return ""
	}
	return netx.Classify(err)
}

// resolve looks host up with one resolver, retrying failures.
func (m *Measurer) resolve(ctx context.Context, nc *netx.Client, trace *netx.Trace, resolver, host string) DNSObservation {
	obs := DNSObservation{Resolver: resolver}
	seen := map[string]bool{}
	var mu sync.Mutex // guards obs and seen against concurrent tries
	obs.Attempts = m.tries(ctx, m.cfg.Retries, func(int) string {
		res, err := m.cfg.Lookup(ctx, m.step(nc), trace, resolver, host)
		mu.Lock()
		defer mu.Unlock()
		if res != nil {
			m.sampleDNS(res)
			obs.Injected = obs.Injected || res.Injected
			for _, a := range res.Addrs {
				if !seen[a] {
					seen[a] = true
					obs.Addrs = append(obs.Addrs, a)
				}
			}
		}
		if err == nil && (res == nil || len(res.Addrs) == 0) {
			return netx.FailureDNSNoAnswer
		}
		return failureOf(err)
	})
	return obs
}

// sampleDNS feeds the estimator with the time to each query's first reply: the
// lookup's own duration includes the wait for late (injected) duplicates, which is
// not a round trip.
func (m *Measurer) sampleDNS(res *netx.DNSResult) {
	for _, q := range res.Queries {
		if !q.XDuplicate && q.Failure == nil && q.T > q.T0 {
			m.rtt.Add(time.Duration((q.T - q.T0) * float64(time.Second)))
		}
	}
}
