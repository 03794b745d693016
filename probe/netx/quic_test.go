package netx_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

func TestHandshakeQUICSuccess(t *testing.T) {
	p := newPKI(t)
	srv := netxtest.NewHTTP3Server(t, p.good, http.NotFoundHandler())
	c := &netx.Client{Roots: p.ca.Pool()}
	trace := newTrace()
	conn, ev, err := c.HandshakeQUIC(context.Background(), trace, srv.Addr, "example.test", nil)
	if err != nil {
		t.Fatalf("HandshakeQUIC: %v", err)
	}
	defer conn.CloseWithError(0, "")
	if ev.Network != "udp" || ev.NegotiatedProtocol != "h3" || ev.TLSVersion != "TLSv1.3" || !ev.XVerified {
		t.Errorf("event %+v: want a verified h3 handshake over udp", ev)
	}
	if len(ev.PeerCertificates) != 2 || ev.XLeafIssuer != p.ca.Intermediate.Subject.String() {
		t.Errorf("chain of %d, leaf issuer %q", len(ev.PeerCertificates), ev.XLeafIssuer)
	}
	if got := trace.Events().QUICHandshakes; len(got) != 1 || got[0].TransactionID != ev.TransactionID {
		t.Errorf("recorded %+v, want this one handshake", got)
	}
}

func TestHandshakeQUICUntrustedRecordsChain(t *testing.T) {
	p := newPKI(t)
	srv := netxtest.NewHTTP3Server(t, p.untrusted, http.NotFoundHandler())
	c := &netx.Client{Roots: p.ca.Pool()}
	conn, ev, err := c.HandshakeQUIC(context.Background(), newTrace(), srv.Addr, "example.test", nil)
	if got := failure(err); got != netx.FailureSSLUnknownAuthority {
		t.Fatalf("failure = %q (%v), want %q", got, err, netx.FailureSSLUnknownAuthority)
	}
	if conn != nil || len(ev.PeerCertificates) != 2 || ev.XVerified || ev.Failure != nil || deref(ev.XVerifyFailure) != netx.FailureSSLUnknownAuthority {
		t.Errorf("conn %v, %d certificates, verified %v: want no conn and the chain recorded", conn, len(ev.PeerCertificates), ev.XVerified)
	}
}

func TestHandshakeQUICBlackHoleTimesOut(t *testing.T) {
	addr := netxtest.NewUDPBlackHole(t)
	c := &netx.Client{Timeout: testTimeout}
	trace := newTrace()
	_, ev, err := c.HandshakeQUIC(context.Background(), trace, addr, "example.test", nil)
	if got := failure(err); got != netx.FailureGenericTimeout {
		t.Fatalf("failure = %q (%v), want %q", got, err, netx.FailureGenericTimeout)
	}
	if deref(ev.Failure) != netx.FailureGenericTimeout || len(trace.Events().QUICHandshakes) != 1 {
		t.Errorf("event failure %q", deref(ev.Failure))
	}
}

func TestHandshakeQUICRejectsHostName(t *testing.T) {
	var c netx.Client
	if _, _, err := c.HandshakeQUIC(context.Background(), newTrace(), "example.test:443", "", nil); err == nil {
		t.Fatal("HandshakeQUIC resolved a name: it must take IP:port only")
	}
}
