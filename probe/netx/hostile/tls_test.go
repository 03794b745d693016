package hostile_test

import (
	"context"
	"net"
	"testing"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/hostile"
)

// TestTLSStallMidHandshakeTimesOut: a server that starts its ServerHello and stops
// is ended by the step timeout, with the handshake recorded as a timeout, for both
// ClientHellos.
func TestTLSStallMidHandshakeTimesOut(t *testing.T) {
	addr := hostile.NewTLSStall(t)
	for _, hello := range []string{netx.ClientHelloChrome, netx.ClientHelloGo} {
		t.Run(hello, func(t *testing.T) {
			c := netx.Client{Timeout: phaseTimeout, ClientHello: hello}
			trace := newTrace()
			conn, err := c.DialTCP(context.Background(), trace, addr)
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			tlsConn, ev, err := c.HandshakeTLS(context.Background(), trace, conn, "stall.example", nil)
			if tlsConn != nil {
				tlsConn.Close()
				t.Fatal("a handshake that never completed returned a connection")
			}
			if failure, op := failureOf(err); failure != netx.FailureGenericTimeout || op != "tls_handshake" {
				t.Fatalf("failure %q in %q, want %q in tls_handshake", failure, op, netx.FailureGenericTimeout)
			}
			if ev == nil || ev.Failure == nil || *ev.Failure != netx.FailureGenericTimeout {
				t.Errorf("handshake event %+v, want the timeout recorded", ev)
			}
			if n := len(trace.Events().TLSHandshakes); n != 1 {
				t.Errorf("%d handshake events, want 1", n)
			}
		})
	}
}

// TestFetchThroughTLSStall: the same stall met by Fetch is a timeout of the
// tls_handshake phase, not of the whole fetch.
func TestFetchThroughTLSStall(t *testing.T) {
	addr := hostile.NewTLSStall(t)
	_, port, _ := net.SplitHostPort(addr)
	opts := shortOptions()
	opts.Address = addr
	res, err := fetch(t, "https://stall.example:"+port+"/", opts)
	if failure, op := failureOf(err); failure != netx.FailureGenericTimeout || op != "tls_handshake" {
		t.Fatalf("failure %q in %q, want %q in tls_handshake", failure, op, netx.FailureGenericTimeout)
	}
	if res.TLS == nil || res.TLS.Failure == nil {
		t.Errorf("no failed handshake event in the result: %+v", res.TLS)
	}
}
