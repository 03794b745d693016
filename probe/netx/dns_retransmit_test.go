package netx_test

import (
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/vantage-probe/vantage/probe/netx"
)

// lossyResolver is a UDP resolver on loopback that drops the first `drop` copies of
// every query (per name and type), then answers each copy after `delay`, with an A
// address that changes from copy to copy when rotate is set (a round-robin
// resolver). It records the ids of the copies it received.
type lossyResolver struct {
	pc     net.PacketConn
	drop   int
	delay  time.Duration
	rotate bool

	mu  sync.Mutex
	ids map[string][]uint16 // "name TYPE" -> ids in arrival order
	wg  sync.WaitGroup
}

func newLossyResolver(t *testing.T, drop int, delay time.Duration, rotate bool) *lossyResolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &lossyResolver{pc: pc, drop: drop, delay: delay, rotate: rotate, ids: map[string][]uint16{}}
	r.wg.Add(1)
	go r.serve()
	t.Cleanup(func() { pc.Close(); r.wg.Wait() })
	return r
}

func (r *lossyResolver) url() string { return "udp://" + r.pc.LocalAddr().String() }

func (r *lossyResolver) serve() {
	defer r.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := r.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		req := new(dns.Msg)
		if req.Unpack(buf[:n]) != nil || len(req.Question) != 1 {
			continue
		}
		key := req.Question[0].Name + " " + dns.TypeToString[req.Question[0].Qtype]
		r.mu.Lock()
		r.ids[key] = append(r.ids[key], req.Id)
		copyNo := len(r.ids[key])
		r.mu.Unlock()
		if copyNo <= r.drop {
			continue
		}
		reply := new(dns.Msg).SetReply(req)
		if req.Question[0].Qtype == dns.TypeA {
			last := byte(7)
			if r.rotate {
				last = byte(copyNo)
			}
			reply.Answer = []dns.RR{&dns.A{
				Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A:   net.IPv4(198, 51, 100, last),
			}}
		}
		b, _ := reply.Pack()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			time.Sleep(r.delay)
			_, _ = r.pc.WriteTo(b, from)
		}()
	}
}

func (r *lossyResolver) copies(name, qtype string) []uint16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids[dns.Fqdn(name)+" "+qtype])
}

func TestLookupResendsALostUDPQuery(t *testing.T) {
	r := newLossyResolver(t, 1, 0, false)
	opts := netx.DNSOptions{DuplicateWindow: dnsTestNoWindow, Retransmit: 100 * time.Millisecond}
	res, _, err := dnsLookup(t, &netx.Client{Timeout: dnsTestStep}, r.url(), "lossy.test", opts)
	if err != nil || !slices.Equal(res.Addrs, []string{"198.51.100.7"}) {
		t.Fatalf("Lookup = %+v, %v; want 198.51.100.7 from the resent query", res, err)
	}
	for _, qtype := range []string{"A", "AAAA"} {
		ids := r.copies("lossy.test", qtype)
		if len(ids) != 2 || ids[0] == ids[1] {
			t.Errorf("%s copies received: ids %v, want two with different ids (the lost one and its resend)", qtype, ids)
		}
	}
}

func TestLookupWithoutResendWaitsOutTheStep(t *testing.T) {
	r := newLossyResolver(t, 1, 0, false)
	opts := netx.DNSOptions{DuplicateWindow: dnsTestNoWindow, Retransmit: -1}
	_, _, err := dnsLookup(t, &netx.Client{Timeout: 500 * time.Millisecond}, r.url(), "lossy.test", opts)
	if got := netx.Classify(err); got != netx.FailureGenericTimeout {
		t.Fatalf("failure = %q (%v), want %q: with resends off one lost datagram costs the step", got, err, netx.FailureGenericTimeout)
	}
	if ids := r.copies("lossy.test", "A"); len(ids) != 1 {
		t.Errorf("A copies = %v, want exactly one", ids)
	}
}

func TestLookupResendsAtMostTheCap(t *testing.T) {
	r := newLossyResolver(t, 1000, 0, false)
	opts := netx.DNSOptions{DuplicateWindow: dnsTestNoWindow, Retransmit: 50 * time.Millisecond}
	start := time.Now()
	_, _, err := dnsLookup(t, &netx.Client{Timeout: time.Second}, r.url(), "silent.test", opts)
	if got := netx.Classify(err); got != netx.FailureGenericTimeout {
		t.Fatalf("failure = %q (%v), want %q", got, err, netx.FailureGenericTimeout)
	}
	if ids := r.copies("silent.test", "A"); len(ids) != 1+netx.DefaultMaxRetransmits {
		t.Errorf("A copies = %d, want %d (the query and its capped resends)", len(ids), 1+netx.DefaultMaxRetransmits)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("lookup ended after %v: the last copy must wait for the step's end (1 s), not give up", d)
	}
}

func TestLookupRepliesToDifferentCopiesAreNotInjection(t *testing.T) {
	// The first copy is answered after the resend went out; a round-robin resolver
	// answers the two copies with different addresses. Both replies arrive inside
	// the duplicate window, yet they answer different queries.
	r := newLossyResolver(t, 0, 150*time.Millisecond, true)
	opts := netx.DNSOptions{DuplicateWindow: 600 * time.Millisecond, Retransmit: 100 * time.Millisecond}
	res, trace, err := dnsLookup(t, &netx.Client{Timeout: dnsTestStep}, r.url(), "rr.test", opts)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if ids := r.copies("rr.test", "A"); len(ids) < 2 {
		t.Fatalf("A copies = %v, want the resend to have gone out before the first reply", ids)
	}
	var answers int
	for _, ev := range trace.Events().Queries {
		if ev.QueryType == "A" && len(ev.Answers) == 1 {
			answers++
		}
	}
	if answers < 2 {
		t.Fatalf("A replies recorded = %d, want both copies' replies", answers)
	}
	if res.Injected {
		t.Errorf("Injected = true, want false: the differing replies answer different copies")
	}
}
