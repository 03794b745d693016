package webconnectivity

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
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
func (m *Measurer) observe(ctx context.Context, trace *netx.Trace, u *url.URL, nc *netx.Config) *Observations {
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
		o.Control, _, controlErr = m.control.query(ctx, &thproto.Request{
			HTTPRequest: u.String(), HTTPRequestHeaders: map[string][]string{},
			TCPConnect: primary, XQUICEnabled: m.cfg.QUIC,
		})
	})
	working := &workingEndpoints{}
	for i := range o.Endpoints {
		ep := &o.Endpoints[i]
		validationOnly := !strings.HasSuffix(ep.Address, ":"+o.Port)
		wg.Go(func() { m.measureEndpoint(ctx, nc, trace, host, ep, validationOnly, working) })
	}
	if len(primary) > 0 {
		wg.Go(func() { o.HTTP = m.fetch(ctx, nc, trace, u, primary[0], working) })
	}
	wg.Wait()
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

func resolverOf(nc *netx.Config) string {
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
func (m *Measurer) step(nc *netx.Config) *netx.Config {
	c := *nc
	c.Timeout = m.rtt.StepTimeout(m.cfg.Timeouts)
	return &c
}

// tries runs step until it succeeds, at most Retries times, spaced by RetrySpacing.
// step returns the try's failure ("" for success).
func (m *Measurer) tries(ctx context.Context, n int, step func() string) Attempts {
	var a Attempts
	for i := 0; i < n; i++ {
		if i > 0 {
			t := time.NewTimer(m.cfg.RetrySpacing)
			select {
			case <-ctx.Done():
				t.Stop()
				return a
			case <-t.C:
			}
		}
		f := step()
		a = append(a, f)
		if f == "" {
			break
		}
	}
	return a
}

// timed runs f and feeds the estimator with its duration when it succeeded.
func (m *Measurer) timed(f func() error) error {
	start := time.Now()
	err := f()
	if err == nil {
		m.rtt.Add(time.Since(start))
	}
	return err
}

func failureOf(err error) string {
	if err == nil {
		return ""
	}
	return netx.Classify(err)
}

// resolve looks host up with one resolver, retrying failures.
func (m *Measurer) resolve(ctx context.Context, nc *netx.Config, trace *netx.Trace, resolver, host string) DNSObservation {
	obs := DNSObservation{Resolver: resolver}
	seen := map[string]bool{}
	obs.Attempts = m.tries(ctx, m.cfg.Retries, func() string {
		res, err := m.cfg.Lookup(ctx, m.step(nc), trace, resolver, host)
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

// workingEndpoints collects the endpoints whose connect (and handshake) worked, so
// that a retried fetch goes where the site answers.
type workingEndpoints struct {
	mu    sync.Mutex
	addrs []string
}

func (w *workingEndpoints) add(a string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.addrs = append(w.addrs, a)
}

func (w *workingEndpoints) first(fallback string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.addrs) > 0 {
		return w.addrs[0]
	}
	return fallback
}

// measureEndpoint connects to one endpoint and, when planned, shakes hands with the
// URL's name; when that fails (not on a certificate), it tries the benign SNI on a
// fresh connection: the SNI swap. Validation-only endpoints get one try per step.
func (m *Measurer) measureEndpoint(ctx context.Context, nc *netx.Config, trace *netx.Trace, host string, ep *EndpointObservation, validationOnly bool, working *workingEndpoints) {
	n := m.cfg.Retries
	if validationOnly {
		n = 1
	}
	var conn net.Conn
	ep.TCP = m.tries(ctx, n, func() string {
		return failureOf(m.timed(func() (err error) { conn, err = m.step(nc).DialTCP(ctx, trace, ep.Address); return err }))
	})
	if conn == nil {
		return
	}
	if ep.TLS == nil {
		conn.Close()
		working.add(ep.Address)
		return
	}
	t := ep.TLS
	t.Attempts = m.tries(ctx, n, func() string {
		f := m.handshake(ctx, nc, trace, &conn, ep.Address, host, t)
		return f
	})
	if t.Attempts.Successes() > 0 {
		working.add(ep.Address)
	}
	if f := t.Attempts.Failure(); t.Attempts.AllFailed() && !isCertFailure(f) && !validationOnly {
		// One try: a success is the evidence; a failure only means the swap proves
		// nothing, and retrying it would double a black-holed URL's time.
		t.BenignSNI = m.cfg.BenignSNI
		t.Benign = m.tries(ctx, 1, func() string {
			var c net.Conn
			f := m.handshake(ctx, nc, trace, &c, ep.Address, m.cfg.BenignSNI, nil)
			if isCertFailure(f) {
				return "" // the handshake completed: only the name is not this server's
			}
			return f
		})
	}
}

// handshake runs one TLS handshake on *conn, dialling a fresh connection when *conn
// is nil (a retry). It records the chain into t when t is not nil.
func (m *Measurer) handshake(ctx context.Context, nc *netx.Config, trace *netx.Trace, conn *net.Conn, address, sni string, t *TLSObservation) string {
	nc = m.step(nc)
	c := *conn
	*conn = nil
	if c == nil {
		var err error
		if c, err = nc.DialTCP(ctx, trace, address); err != nil {
			return failureOf(err)
		}
	}
	var ev *netx.TLSHandshakeEvent
	err := m.timed(func() (err error) {
		var tc net.Conn
		tc, ev, err = nc.HandshakeTLS(ctx, trace, c, sni, nil)
		if tc != nil {
			tc.Close()
		}
		return err
	})
	if t != nil && ev != nil && len(ev.PeerCertificates) > 0 {
		t.Completed = true
		t.Chain = t.Chain[:0]
		for _, pc := range ev.PeerCertificates {
			t.Chain = append(t.Chain, pc.Data)
		}
		t.Issuer = ev.XLeafIssuer
	}
	return failureOf(err)
}

// fetch GETs the URL pinned to first, retrying failures on an endpoint known to
// work when there is one.
func (m *Measurer) fetch(ctx context.Context, nc *netx.Config, trace *netx.Trace, u *url.URL, first string, working *workingEndpoints) *HTTPObservation {
	obs := &HTTPObservation{}
	try := 0
	obs.Attempts = m.tries(ctx, m.cfg.Retries, func() string {
		addr := first
		if try > 0 {
			addr = working.first(first)
		}
		try++
		nc := m.step(nc)
		res, err := nc.Fetch(ctx, trace, u.String(), netx.FetchOptions{
			Address:        addr,
			ConnectTimeout: nc.Timeout,
			TLSTimeout:     nc.Timeout,
			// HeaderTimeout stays netx's default: a server's think time before
			// it answers is not a round trip, and slow pages must not look blocked.
			Resolve: func(ctx context.Context, trace *netx.Trace, host string) ([]string, error) {
				r, err := m.cfg.Lookup(ctx, nc, trace, resolverOf(nc), host)
				if err != nil {
					return nil, err
				}
				return r.Addrs, nil
			},
		})
		if err == nil && res != nil && res.Final != nil {
			fillHTTP(obs, res)
		}
		return failureOf(err)
	})
	return obs
}

func fillHTTP(obs *HTTPObservation, res *netx.FetchResult) {
	f := res.Final
	obs.FinalURL = f.Request.URL
	obs.StatusCode = int(f.Response.Code)
	obs.Header = http.Header{}
	for _, h := range f.Response.HeadersList {
		obs.Header.Add(string(h[0]), string(h[1]))
	}
	obs.Body = res.Body
	obs.BodyLength = int64(len(res.Body))
	obs.Truncated = res.BodyTruncated
	obs.Title = f.Response.XTitle
	for _, v := range obs.Header.Values("Alt-Svc") {
		if strings.Contains(v, "h3=") {
			obs.AltSvcH3 = true
		}
	}
}

// h3Port returns the UDP port where the site speaks h3: from the probe's Alt-Svc,
// else from the control's discovered endpoint, else "" (no h3).
func h3Port(o *Observations) string {
	if o.HTTP != nil {
		for _, v := range o.HTTP.Header.Values("Alt-Svc") {
			if p := altSvcH3Port(v); p != "" {
				return p
			}
		}
	}
	if o.Control != nil && o.Control.HTTPRequest.DiscoveredH3Endpoint != "" {
		if _, p, err := net.SplitHostPort(o.Control.HTTPRequest.DiscoveredH3Endpoint); err == nil {
			return p
		}
	}
	return ""
}

// altSvcH3Port extracts the port of an h3 alternative (RFC 7838: h3=":443").
func altSvcH3Port(v string) string {
	for _, alt := range strings.Split(v, ",") {
		alt = strings.TrimSpace(alt)
		rest, ok := strings.CutPrefix(alt, "h3=")
		if !ok {
			continue
		}
		authority := strings.Trim(strings.SplitN(rest, ";", 2)[0], `"`)
		if _, p, err := net.SplitHostPort(authority); err == nil {
			if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 {
				return p
			}
		}
	}
	return ""
}

// measureQUIC shakes hands over QUIC with each address on the h3 port, when the
// site or the control says it speaks h3.
func (m *Measurer) measureQUIC(ctx context.Context, nc *netx.Config, trace *netx.Trace, host string, o *Observations) []QUICObservation {
	port := h3Port(o)
	if !m.cfg.QUIC || port == "" || len(o.DNS.Addrs) == 0 {
		return nil
	}
	addrs := m.reachable(o.DNS.Addrs)
	out := make([]QUICObservation, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		out[i].Address = net.JoinHostPort(a, port)
		wg.Go(func() {
			out[i].Attempts = m.tries(ctx, m.cfg.Retries, func() string {
				err := m.timed(func() error {
					conn, _, err := m.step(nc).HandshakeQUIC(ctx, trace, out[i].Address, host, nil)
					if conn != nil {
						_ = conn.CloseWithError(0, "")
					}
					return err
				})
				if f := failureOf(err); !isCertFailure(f) {
					return f
				}
				return "" // completed: reachability is what QUIC is measured for
			})
		})
	}
	wg.Wait()
	return out
}
