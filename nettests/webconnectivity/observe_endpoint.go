package webconnectivity

import (
	"context"
	"net"
	"sync"

	"github.com/vantage-probe/vantage/probe/netx"
)

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
		if !validationOnly {
			working.add(ep.Address)
		}
		return
	}
	t := ep.TLS
	t.Attempts = m.tries(ctx, n, func() string {
		f := m.handshake(ctx, nc, trace, &conn, ep.Address, host, t)
		return f
	})
	if t.Attempts.Successes() > 0 && !validationOnly {
		working.add(ep.Address) // a validation endpoint is on another port than the fetch's
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
