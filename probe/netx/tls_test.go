package netx_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// handshake dials addr and runs HandshakeTLS with the given ClientHello flavour.
func handshake(t *testing.T, c *netx.Client, addr, sni string, alpn []string) (net.Conn, *netx.TLSHandshakeEvent, *netx.Trace, error) {
	t.Helper()
	trace := newTrace()
	conn, err := c.DialTCP(context.Background(), trace, addr)
	if err != nil {
		t.Fatalf("DialTCP: %v", err)
	}
	tconn, ev, err := c.HandshakeTLS(context.Background(), trace, conn, sni, alpn)
	if tconn != nil {
		t.Cleanup(func() { tconn.Close() })
	}
	return tconn, ev, trace, err
}

func TestHandshakeTLSSuccessRecordsChain(t *testing.T) {
	p := newPKI(t)
	srv := netxtest.NewHTTPSServer(t, p.good, http.NotFoundHandler())
	clientHellos(t, func(t *testing.T, hello string) {
		c := &netx.Client{Roots: p.ca.Pool(), ClientHello: hello}
		conn, ev, trace, err := handshake(t, c, srv.Addr, "example.test", []string{"h2", "http/1.1"})
		if err != nil || conn == nil {
			t.Fatalf("HandshakeTLS: %v", err)
		}
		leaf := p.good.Leaf
		spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
		switch {
		case ev.Failure != nil || !ev.XVerified || ev.XVerifyFailure != nil:
			t.Errorf("failure %v verified %v verify failure %v, want a clean verified handshake", deref(ev.Failure), ev.XVerified, deref(ev.XVerifyFailure))
		case ev.TLSVersion != "TLSv1.3" || ev.CipherSuite == "" || ev.NegotiatedProtocol != "h2":
			t.Errorf("version %q cipher %q alpn %q, want TLSv1.3, a cipher, h2", ev.TLSVersion, ev.CipherSuite, ev.NegotiatedProtocol)
		case len(ev.PeerCertificates) != 2 || string(ev.PeerCertificates[0].Data) != string(leaf.Raw):
			t.Errorf("got %d certificates, want leaf then intermediate", len(ev.PeerCertificates))
		case ev.XLeafSPKISHA256 != hex.EncodeToString(spki[:]):
			t.Errorf("leaf spki %q, want %x", ev.XLeafSPKISHA256, spki)
		case ev.XLeafIssuer != p.ca.Intermediate.Subject.String() || ev.XRootIssuer != p.ca.Root.Subject.String():
			t.Errorf("leaf issuer %q root issuer %q", ev.XLeafIssuer, ev.XRootIssuer)
		case ev.XLeafSubject != "CN=example.test" || ev.ServerName != "example.test" || ev.XClientHello != hello:
			t.Errorf("subject %q server name %q hello %q", ev.XLeafSubject, ev.ServerName, ev.XClientHello)
		}
		tcp := trace.Events().TCPConnect[0]
		if ev.TransactionID != tcp.TransactionID {
			t.Errorf("handshake transaction %d, connect %d: want the same", ev.TransactionID, tcp.TransactionID)
		}
		if got := len(trace.Events().TLSHandshakes); got != 1 {
			t.Errorf("%d handshake events recorded, want 1", got)
		}
	})
}

func TestHandshakeTLSOverridesALPN(t *testing.T) {
	p := newPKI(t)
	srv := netxtest.NewHTTPSServer(t, p.good, http.NotFoundHandler()) // offers h2 first
	clientHellos(t, func(t *testing.T, hello string) {
		c := &netx.Client{Roots: p.ca.Pool(), ClientHello: hello}
		_, ev, _, err := handshake(t, c, srv.Addr, "example.test", []string{"http/1.1"})
		if err != nil {
			t.Fatal(err)
		}
		if ev.NegotiatedProtocol != "http/1.1" {
			t.Errorf("negotiated %q, want http/1.1: the ALPN list was not replaced", ev.NegotiatedProtocol)
		}
	})
}

func TestHandshakeTLSUntrustedStillRecordsChain(t *testing.T) {
	p := newPKI(t)
	srv := netxtest.NewHTTPSServer(t, p.untrusted, http.NotFoundHandler())
	clientHellos(t, func(t *testing.T, hello string) {
		c := &netx.Client{Roots: p.ca.Pool(), ClientHello: hello}
		conn, ev, _, err := handshake(t, c, srv.Addr, "example.test", nil)
		if got := failure(err); got != netx.FailureSSLUnknownAuthority {
			t.Fatalf("failure = %q (%v), want %q", got, err, netx.FailureSSLUnknownAuthority)
		}
		if conn != nil {
			t.Error("a conn was returned for an unverified chain")
		}
		if ev == nil || len(ev.PeerCertificates) != 2 || ev.TLSVersion == "" {
			t.Fatalf("event %+v: want the completed handshake with its chain", ev)
		}
		if ev.XVerified || deref(ev.XVerifyFailure) != netx.FailureSSLUnknownAuthority || ev.Failure != nil {
			t.Errorf("verified %v verify failure %q failure %q", ev.XVerified, deref(ev.XVerifyFailure), deref(ev.Failure))
		}
		if ev.XRootIssuer != "CN=Interceptor Root,O=vantage test" {
			t.Errorf("root issuer %q, want the interceptor's root", ev.XRootIssuer)
		}
	})
}

func TestHandshakeTLSWrongHostname(t *testing.T) {
	p := newPKI(t)
	srv := netxtest.NewHTTPSServer(t, p.wrongName, http.NotFoundHandler())
	clientHellos(t, func(t *testing.T, hello string) {
		c := &netx.Client{Roots: p.ca.Pool(), ClientHello: hello}
		_, ev, _, err := handshake(t, c, srv.Addr, "example.test", nil)
		if got := failure(err); got != netx.FailureSSLInvalidHostname {
			t.Fatalf("failure = %q (%v), want %q", got, err, netx.FailureSSLInvalidHostname)
		}
		if ev.XLeafSubject != "CN=other.test" || ev.XVerified || deref(ev.XVerifyFailure) != netx.FailureSSLInvalidHostname {
			t.Errorf("subject %q verified %v verify failure %q", ev.XLeafSubject, ev.XVerified, deref(ev.XVerifyFailure))
		}
	})
}

func TestHandshakeTLSSystemRootsRejectTestCA(t *testing.T) {
	p := newPKI(t)
	srv := netxtest.NewHTTPSServer(t, p.good, http.NotFoundHandler())
	_, _, _, err := handshake(t, &netx.Client{}, srv.Addr, "example.test", nil) // Roots nil: system roots
	if got := failure(err); got != netx.FailureSSLUnknownAuthority {
		t.Fatalf("failure = %q, want %q", got, netx.FailureSSLUnknownAuthority)
	}
}

// sniRecorder is a TLS server that remembers the SNI of each ClientHello.
func sniRecorder(t *testing.T, cert tls.Certificate) (string, func() []string) {
	var mu sync.Mutex
	var seen []string
	conf := &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		mu.Lock()
		seen = append(seen, h.ServerName)
		mu.Unlock()
		return &cert, nil
	}}
	srv := netxtest.NewHTTPSServerConfig(t, conf, http.NotFoundHandler())
	return srv.Addr, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string{}, seen...)
	}
}

func TestHandshakeTLSWithoutSNIVerifiesPeerIP(t *testing.T) {
	p := newPKI(t)
	addr, seen := sniRecorder(t, p.good)
	clientHellos(t, func(t *testing.T, hello string) {
		c := &netx.Client{Roots: p.ca.Pool(), ClientHello: hello}
		_, ev, _, err := handshake(t, c, addr, "", nil)
		if err != nil {
			t.Fatalf("HandshakeTLS without SNI: %v (the leaf is valid for 127.0.0.1)", err)
		}
		if ev.ServerName != "" || !ev.XVerified {
			t.Errorf("server name %q verified %v", ev.ServerName, ev.XVerified)
		}
		if s := seen(); len(s) == 0 || s[len(s)-1] != "" {
			t.Errorf("server saw SNI %q, want none", s)
		}
	})
}

func TestHandshakeTLSSendsSNI(t *testing.T) {
	p := newPKI(t)
	addr, seen := sniRecorder(t, p.good)
	clientHellos(t, func(t *testing.T, hello string) {
		c := &netx.Client{Roots: p.ca.Pool(), ClientHello: hello}
		if _, _, _, err := handshake(t, c, addr, "example.test", nil); err != nil {
			t.Fatal(err)
		}
		if s := seen(); len(s) == 0 || s[len(s)-1] != "example.test" {
			t.Errorf("server saw SNI %q, want example.test", s)
		}
	})
}

func TestHandshakeTLSResetMidHandshake(t *testing.T) {
	addr := netxtest.NewResetter(t)
	clientHellos(t, func(t *testing.T, hello string) {
		c := &netx.Client{ClientHello: hello}
		_, ev, _, err := handshake(t, c, addr, "example.test", nil)
		if got := failure(err); got != netx.FailureConnectionReset {
			t.Fatalf("failure = %q (%v), want %q", got, err, netx.FailureConnectionReset)
		}
		if deref(ev.Failure) != netx.FailureConnectionReset || operation(err) != "tls_handshake" {
			t.Errorf("event failure %q operation %q", deref(ev.Failure), operation(err))
		}
	})
}

func TestHandshakeTLSTimeout(t *testing.T) {
	addr := netxtest.NewBlackHole(t)
	clientHellos(t, func(t *testing.T, hello string) {
		c := &netx.Client{ClientHello: hello, Timeout: testTimeout}
		_, ev, _, err := handshake(t, c, addr, "example.test", nil)
		if got := failure(err); got != netx.FailureGenericTimeout {
			t.Fatalf("failure = %q (%v), want %q", got, err, netx.FailureGenericTimeout)
		}
		if deref(ev.Failure) != netx.FailureGenericTimeout {
			t.Errorf("event failure %q", deref(ev.Failure))
		}
	})
}

func TestHandshakeTLSEOF(t *testing.T) {
	addr := netxtest.NewCloser(t)
	clientHellos(t, func(t *testing.T, hello string) {
		c := &netx.Client{ClientHello: hello}
		_, _, _, err := handshake(t, c, addr, "example.test", nil)
		if got := failure(err); got != netx.FailureEOF {
			t.Fatalf("failure = %q (%v), want %q", got, err, netx.FailureEOF)
		}
	})
}

func TestHandshakeTLSExpiredCertificate(t *testing.T) {
	p := newPKI(t)
	expired, err := p.ca.IssueExpired("example.test")
	if err != nil {
		t.Fatal(err)
	}
	srv := netxtest.NewHTTPSServer(t, expired, http.NotFoundHandler())
	clientHellos(t, func(t *testing.T, hello string) {
		c := &netx.Client{Roots: p.ca.Pool(), ClientHello: hello}
		_, ev, _, err := handshake(t, c, srv.Addr, "example.test", nil)
		if got := failure(err); got != netx.FailureSSLInvalidCertificate {
			t.Fatalf("failure = %q (%v), want %q", got, err, netx.FailureSSLInvalidCertificate)
		}
		if ev.XVerified || deref(ev.XVerifyFailure) != netx.FailureSSLInvalidCertificate || len(ev.PeerCertificates) != 2 {
			t.Errorf("verified %v verify failure %q, %d certificates", ev.XVerified, deref(ev.XVerifyFailure), len(ev.PeerCertificates))
		}
	})
}
