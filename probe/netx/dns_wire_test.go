package netx

import (
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// packedReply builds a reply to a query for qname/qtype with the given records.
func packedReply(t testing.TB, qname string, qtype uint16, rcode int, answers ...dns.RR) []byte {
	t.Helper()
	m := new(dns.Msg).SetReply(newDNSQuery(qname, qtype))
	m.Rcode = rcode
	m.Answer = answers
	b, err := m.Pack()
	if err != nil {
		t.Fatalf("pack: %v", err)
	}
	return b
}

func rrA(name, ip string) dns.RR {
	return &dns.A{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)}
}

func rrCNAME(name, target string) dns.RR {
	return &dns.CNAME{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: dns.Fqdn(target)}
}

func TestDecodeDNSReplyKeepsOnlyTheCNAMEChain(t *testing.T) {
	raw := packedReply(t, "www.test", dns.TypeA, dns.RcodeSuccess,
		rrCNAME("www.test", "edge.test"),
		rrA("edge.test", "198.51.100.1"),
		rrA("unrelated.test", "198.51.100.66"), // not on the chain: ignored
	)
	r, _, err := decodeDNSReply(raw, "www.test", dns.TypeA)
	if err != nil || r.Err != nil {
		t.Fatalf("decode: %v / %v", err, r.Err)
	}
	if len(r.Addrs) != 1 || r.Addrs[0] != "198.51.100.1" || len(r.Answers) != 2 {
		t.Errorf("addrs %v answers %+v, want only the chain's address", r.Addrs, r.Answers)
	}
}

func TestDecodeDNSReplySurvivesACNAMELoop(t *testing.T) {
	raw := packedReply(t, "a.test", dns.TypeA, dns.RcodeSuccess, rrCNAME("a.test", "b.test"), rrCNAME("b.test", "a.test"))
	r, _, err := decodeDNSReply(raw, "a.test", dns.TypeA)
	if err != nil || r.Err != ErrDNSNoAnswer {
		t.Fatalf("decode = %+v, %v; want no answer", r, err)
	}
}

func TestDecodeDNSReplyRejectsNonReplies(t *testing.T) {
	query, _ := newDNSQuery("x.test", dns.TypeA).Pack()
	other := packedReply(t, "y.test", dns.TypeA, dns.RcodeSuccess, rrA("y.test", "198.51.100.1"))
	for name, raw := range map[string][]byte{"query": query, "other question": other, "truncated": other[:15], "empty": nil} {
		if _, _, err := decodeDNSReply(raw, "x.test", dns.TypeA); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	// The question matches whatever the case of the name (RFC 4343).
	upper := packedReply(t, "X.TEST", dns.TypeA, dns.RcodeSuccess, rrA("X.TEST", "198.51.100.1"))
	if r, _, err := decodeDNSReply(upper, "x.test", dns.TypeA); err != nil || len(r.Addrs) != 1 {
		t.Errorf("upper-case reply: %v, %v", r, err)
	}
}

// FuzzDNSReply feeds arbitrary bytes to the reply decoder: it must never panic, and
// what it accepts must be coherent.
func FuzzDNSReply(f *testing.F) {
	f.Add(packedReply(f, "x.test", dns.TypeA, dns.RcodeSuccess, rrA("x.test", "198.51.100.1")))
	f.Add(packedReply(f, "x.test", dns.TypeA, dns.RcodeSuccess, rrCNAME("x.test", "y.test"), rrA("y.test", "198.51.100.2")))
	f.Add(packedReply(f, "x.test", dns.TypeA, dns.RcodeSuccess, rrCNAME("x.test", "x.test")))
	f.Add(packedReply(f, "x.test", dns.TypeA, dns.RcodeNameError))
	f.Add([]byte{0x12, 0x34, 0x81, 0x80, 0, 1, 0, 5, 0, 0, 0, 0, 7, 'e', 'x', 'a'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, _, err := decodeDNSReply(raw, "x.test", dns.TypeA)
		if err != nil {
			return
		}
		if (r.Err == nil) != (len(r.Addrs) > 0) {
			t.Fatalf("Err %v with %d addresses", r.Err, len(r.Addrs))
		}
		for _, a := range r.Addrs {
			if addr, perr := netip.ParseAddr(a); perr != nil || !addr.Is4() {
				t.Fatalf("A answer %q is not an IPv4 address", a)
			}
		}
		_ = r.fingerprint()
	})
}
