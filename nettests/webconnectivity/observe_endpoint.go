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

// Phases of a connection, as netx.Error's Operation names them.
const (
	opConnect      = "connect"
	opTLSHandshake = "tls_handshake"
)

// phaseLog collects, per phase and endpoint, the outcomes of connects and handshakes
// made by steps other than the one that judges them (TLS retries, the benign SNI,
// the fetch): a refused connect is TCP evidence, a reset handshake TLS evidence,
// whichever step made it (docs/methodology.md, section 2).
type phaseLog struct {
	mu  sync.Mutex
	log map[[2]string]Attempts // {phase, address} → outcomes
}

func (l *phaseLog) add(phase, address, failure string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.log == nil {
		l.log = map[[2]string]Attempts{}
	}
	k := [2]string{phase, address}
	l.log[k] = append(l.log[k], failure)
}

func (l *phaseLog) of(phase, address string) Attempts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.log[[2]string{phase, address}]
}

// measureEndpoint connects to one endpoint and, when planned, shakes hands with the
// URL's name; when that fails (not on a certificate), it tries the benign SNI on a
// fresh connection: the SNI swap. Validation-only endpoints get one try per step.
func (m *Measurer) measureEndpoint(ctx context.Context, nc *netx.Client, trace *netx.Trace, host string, ep *EndpointObservation, validationOnly bool, working *workingEndpoints, connects *phaseLog) {
	n := m.cfg.Retries
	if validationOnly {
		n = 1
	}
	conn := m.connect(ctx, nc, trace, ep, n)
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
	var mu sync.Mutex // guards t against concurrent tries
	t.ConnectFailed = make([]bool, n)
	t.Attempts = m.tries(ctx, n, func(i int) string {
		var c net.Conn
		if i == 0 {
			c = conn // the TCP step's connection; later tries dial afresh
		}
		f, ev, connectFailed := m.handshake(ctx, nc, trace, c, ep.Address, host, connects)
		mu.Lock()
		defer mu.Unlock()
		t.record(ev)
		t.ConnectFailed[i] = connectFailed
		return f
	})
	t.ConnectFailed = t.ConnectFailed[:len(t.Attempts)]
	if t.Attempts.Successes() > 0 && !validationOnly {
		working.add(ep.Address) // a validation endpoint is on another port than the fetch's
	}
	if f := t.Attempts.Failure(); t.Attempts.AllFailed() && !isCertFailure(f) && !validationOnly {
		// One try: a success is the evidence; a failure only means the swap proves
		// nothing, and retrying it would double a black-holed URL's time.
		t.BenignSNI = m.cfg.BenignSNI
		t.Benign = m.tries(ctx, 1, func(int) string {
			f, _, _ := m.handshake(ctx, nc, trace, nil, ep.Address, m.cfg.BenignSNI, connects)
			if isCertFailure(f) {
				return "" // the handshake completed: only the name is not this server's
			}
			return f
		})
	}
}

// connect runs the TCP step (n tries) and returns the first connection that worked,
// nil if none did; the connections of other successful tries are closed.
func (m *Measurer) connect(ctx context.Context, nc *netx.Client, trace *netx.Trace, ep *EndpointObservation, n int) net.Conn {
	conns := make([]net.Conn, n)
	ep.TCP = m.tries(ctx, n, func(i int) string {
		return failureOf(m.timed(func() (err error) { conns[i], err = m.step(nc).DialTCP(ctx, trace, ep.Address); return err }))
	})
	var conn net.Conn
	for _, c := range conns {
		switch {
		case c == nil:
		case conn == nil:
			conn = c
		default:
			c.Close()
		}
	}
	return conn
}

// record keeps the chain of a handshake that received certificates.
func (t *TLSObservation) record(ev *netx.TLSHandshakeEvent) {
	if ev == nil || len(ev.PeerCertificates) == 0 {
		return
	}
	t.Completed = true
	t.Chain = t.Chain[:0]
	for _, pc := range ev.PeerCertificates {
		t.Chain = append(t.Chain, pc.Data)
	}
	t.Issuer = ev.XLeafIssuer
}

// handshake runs one TLS handshake on conn, dialling a fresh connection when conn is
// nil (a retry; its connect outcome goes to connects). It returns the failure, the
// handshake event if any, and whether the failure was the fresh connect's.
func (m *Measurer) handshake(ctx context.Context, nc *netx.Client, trace *netx.Trace, conn net.Conn, address, sni string, connects *phaseLog) (string, *netx.TLSHandshakeEvent, bool) {
	nc = m.step(nc)
	if conn == nil {
		var err error
		conn, err = nc.DialTCP(ctx, trace, address)
		connects.add(opConnect, address, failureOf(err))
		if err != nil {
			return failureOf(err), nil, true
		}
	}
	var ev *netx.TLSHandshakeEvent
	err := m.timed(func() (err error) {
		var tc net.Conn
		tc, ev, err = nc.HandshakeTLS(ctx, trace, conn, sni, nil)
		if tc != nil {
			tc.Close()
		}
		return err
	})
	return failureOf(err), ev, false
}
