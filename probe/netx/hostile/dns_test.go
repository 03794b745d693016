package hostile_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/hostile"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

func lookup(t *testing.T, resolverURL string, opts netx.DNSOptions) (*netx.DNSResult, error) {
	t.Helper()
	return lookupWithin(t, phaseTimeout, resolverURL, opts)
}

// lookupWithin looks hostile.example up with the given step timeout.
func lookupWithin(t *testing.T, step time.Duration, resolverURL string, opts netx.DNSOptions) (*netx.DNSResult, error) {
	t.Helper()
	c := netx.Client{Timeout: step}
	res, err := c.LookupWithOptions(context.Background(), newTrace(), resolverURL, "hostile.example", opts)
	if res == nil {
		t.Fatalf("Lookup returned no result (err %v)", err)
	}
	checkJSON(t, res.Queries)
	return res, err
}

// TestDNSThousandsOfAnswers: a reply as large as the transport allows (about 250
// records in a 4096-byte UDP read, 4000 in a 64 KiB TCP frame) is a valid answer: it
// is decoded whole, and the wire format itself bounds what is kept.
func TestDNSThousandsOfAnswers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		udp   bool
		bound uint64
	}{
		{"udp", 200, true, 8 << 20},
		{"tcp", 4000, false, 32 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := hostile.NewDNSServer(t, hostile.ManyAnswers(tc.n))
			url := srv.TCPURL()
			if tc.udp {
				url = srv.UDPURL()
			}
			var res *netx.DNSResult
			var err error
			alloc := allocated(func() { res, err = lookupWithin(t, patientTimeout, url, netx.DNSOptions{DuplicateWindow: -1}) })
			if err != nil {
				t.Fatalf("lookup: %v", err)
			}
			if len(res.Addrs) != tc.n || len(res.Queries[0].Answers) != tc.n {
				t.Errorf("%d addresses and %d answers, want %d of each", len(res.Addrs), len(res.Queries[0].Answers), tc.n)
			}
			if alloc > tc.bound {
				t.Errorf("lookup allocated %d KiB, want under %d KiB", alloc>>10, tc.bound>>10)
			}
			t.Logf("%d answers over %s: %d KiB allocated", tc.n, tc.name, alloc>>10)
		})
	}
}

// TestDNSOversizedUDPReplyIsIgnored: a 48 KiB datagram does not fit the 4096-byte
// read; the cut packet is counted as unusable and the query ends at its timeout.
func TestDNSOversizedUDPReplyIsIgnored(t *testing.T) {
	srv := hostile.NewDNSServer(t, hostile.Oversized())
	res, err := lookup(t, srv.UDPURL(), netx.DNSOptions{})
	if failure, op := failureOf(err); failure != netx.FailureGenericTimeout || op != "resolve" {
		t.Fatalf("failure %q in %q, want %q in resolve", failure, op, netx.FailureGenericTimeout)
	}
	if res.Ignored < 1 || len(res.Addrs) != 0 {
		t.Errorf("ignored %d, addresses %v: want the cut datagram ignored and no address", res.Ignored, res.Addrs)
	}
}

// TestDNSMalformedReply: garbage that carries the query's id is skipped over UDP
// (the real reply might still come) and is the failure over TCP (nothing else can).
func TestDNSMalformedReply(t *testing.T) {
	srv := hostile.NewDNSServer(t, hostile.Malformed())
	t.Run("udp", func(t *testing.T) {
		res, err := lookup(t, srv.UDPURL(), netx.DNSOptions{})
		if failure, _ := failureOf(err); failure != netx.FailureGenericTimeout {
			t.Fatalf("failure %q, want %q", failure, netx.FailureGenericTimeout)
		}
		if res.Ignored != 2 {
			t.Errorf("ignored %d datagrams, want the 2 malformed ones (A and AAAA)", res.Ignored)
		}
	})
	t.Run("tcp", func(t *testing.T) {
		_, err := lookup(t, srv.TCPURL(), netx.DNSOptions{})
		if failure, op := failureOf(err); failure != netx.FailureDNSServerMisbehaving || op != "resolve" {
			t.Fatalf("failure %q in %q, want %q in resolve", failure, op, netx.FailureDNSServerMisbehaving)
		}
	})
}

// TestDNSReplyFloodIsCapped: 5000 valid, differing replies per query are read only
// up to the cap; the first reply is the answer and the differing ones are recorded
// as injection evidence, never as extra addresses.
func TestDNSReplyFloodIsCapped(t *testing.T) {
	const maxReplies = 16
	srv := hostile.NewDNSServer(t, hostile.Flood(5000))
	var res *netx.DNSResult
	var err error
	alloc := allocated(func() {
		res, err = lookupWithin(t, patientTimeout, srv.UDPURL(), netx.DNSOptions{DuplicateWindow: phaseTimeout, MaxUDPReplies: maxReplies})
	})
	if err != nil {
		t.Fatalf("lookup: %v", err)
	}
	if len(res.Addrs) != 1 || res.Addrs[0] != "198.18.0.0" {
		t.Errorf("addresses %v, want only the first reply's 198.18.0.0", res.Addrs)
	}
	if !res.Injected {
		t.Error("differing replies not flagged as injection")
	}
	if n := len(res.Queries); n < 2 || n > 2*maxReplies {
		t.Errorf("%d query events, want between 2 and %d (the cap for A and AAAA)", n, 2*maxReplies)
	}
	if alloc > 16<<20 {
		t.Errorf("lookup allocated %d KiB under a flood, want under 16 MiB", alloc>>10)
	}
	t.Logf("flood of 5000 replies per query: %d events, %d KiB allocated", len(res.Queries), alloc>>10)
}

// TestDNSStallingTCPFrame: a TCP resolver that announces a reply and stops midway
// is a timeout of the lookup, not a hang.
func TestDNSStallingTCPFrame(t *testing.T) {
	_, err := lookup(t, "tcp://"+hostile.NewStallingDNS(t), netx.DNSOptions{})
	if failure, op := failureOf(err); failure != netx.FailureGenericTimeout || op != "resolve" {
		t.Fatalf("failure %q in %q, want %q in resolve", failure, op, netx.FailureGenericTimeout)
	}
}

// TestDoHHostileBodies: a DoH server's body is capped at the size of one DNS
// message (65535 bytes): an endless body and several concatenated replies are
// both dns_server_misbehaving, within the memory bound.
func TestDoHHostileBodies(t *testing.T) {
	ca := netxtest.MustCA(t, "hostile DoH CA")
	cert := netxtest.MustIssue(t, ca, "127.0.0.1")
	for name, h := range map[string]http.Handler{
		"endless":             hostile.DoHHandler(nil, true),
		"many replies in one": hostile.DoHHandler(hostile.Flood(3000), false),
	} {
		t.Run(name, func(t *testing.T) {
			srv := netxtest.NewHTTPSServer(t, cert, h)
			c := netx.Client{Timeout: patientTimeout, Roots: ca.Pool()}
			var err error
			alloc := allocated(func() {
				_, err = c.LookupWithOptions(context.Background(), newTrace(), "https://"+srv.Addr+"/dns-query", "hostile.example", netx.DNSOptions{})
			})
			if failure, _ := failureOf(err); failure != netx.FailureDNSServerMisbehaving {
				t.Fatalf("failure %q, want %q", failure, netx.FailureDNSServerMisbehaving)
			}
			if alloc > 16<<20 {
				t.Errorf("lookup allocated %d KiB, want under 16 MiB", alloc>>10)
			}
		})
	}
}
