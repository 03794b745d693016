package webconnectivity

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/vantage-probe/vantage/probe/netx"
)

// fetch GETs the URL pinned to first, retrying failures on an endpoint known to
// work when there is one. The outcome of each try's first connect and handshake
// also goes to phases, as TCP and TLS evidence.
func (m *Measurer) fetch(ctx context.Context, nc *netx.Client, trace *netx.Trace, u *url.URL, first string, working *workingEndpoints, phases *phaseLog) *HTTPObservation {
	obs := &HTTPObservation{FailedPhase: make([]string, m.cfg.Retries)}
	var mu sync.Mutex // guards obs against concurrent tries
	obs.Attempts = m.triesUntilAnswered(ctx, m.cfg.Retries, func(i int, answered func()) string {
		addr := first
		if i > 0 {
			addr = working.first(first)
		}
		nc := m.step(nc)
		nc.Dial = dialReportingAnswer(nc, answered)
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
		phase := firstHopPhase(err, res)
		phases.add(opConnect, addr, failureIf(phase == opConnect, err))
		if u.Scheme == "https" && phase != opConnect {
			phases.add(opTLSHandshake, addr, failureIf(phase == opTLSHandshake, err))
		}
		mu.Lock()
		defer mu.Unlock()
		obs.FailedPhase[i] = phase
		if err == nil && res != nil && res.Final != nil {
			fillHTTP(obs, res)
		}
		return failureOf(err)
	})
	obs.FailedPhase = obs.FailedPhase[:len(obs.Attempts)]
	return obs
}

// failureIf is err's failure when the phase at hand is the one that failed, else
// success: the phase itself worked.
func failureIf(failedHere bool, err error) string {
	if failedHere {
		return failureOf(err)
	}
	return ""
}

// firstHopPhase returns the phase (connect or tls_handshake) in which a fetch's first
// hop, the one pinned to the measured address, failed; "" when it got past both.
func firstHopPhase(err error, res *netx.FetchResult) string {
	var ne *netx.Error
	if !errors.As(err, &ne) || (res != nil && len(res.Requests) > 1) {
		return "" // a later hop's failure: the first one connected and shook hands
	}
	if ne.Operation == opConnect || ne.Operation == opTLSHandshake {
		return ne.Operation
	}
	return ""
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
	obs.TransferSeconds = f.T - f.T0
	obs.BudgetStopped = f.Response.XBodyStopped == netx.BodyStoppedBudget
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
func (m *Measurer) measureQUIC(ctx context.Context, nc *netx.Client, trace *netx.Trace, host string, o *Observations) []QUICObservation {
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
			out[i].Attempts = m.tries(ctx, m.cfg.Retries, func(int) string {
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
