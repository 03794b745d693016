package dnstest

import (
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DefaultTTL is the TTL of every record a Rule answers with unless it sets its own.
const DefaultTTL = 300

// DefaultDelay separates an early packet (forged, malformed, wrong id) from the real
// reply that follows it on the same UDP socket. It is short so that tests are fast,
// and far shorter than the duplicate windows tests give the client.
const DefaultDelay = 20 * time.Millisecond

// Rule is how the server answers queries for one name. The zero value answers
// NOERROR with no records (an empty answer).
//
// The early-packet fields (Forged, Malformed, WrongID) apply to UDP only: the early
// packets go first, in that order, then after Delay the real reply built from the
// rest of the rule, all from the same socket, the way an on-path injector's forged
// reply races the resolver's. BlackHole suppresses the real reply but not the early
// packets, so Malformed plus BlackHole sends nothing usable at all. Over TCP, DoT
// and DoH, Malformed makes the only reply malformed; Forged and WrongID are ignored.
type Rule struct {
	Rcode int      // dns.RcodeSuccess (0) unless set: dns.RcodeNameError, ...
	A     []string // IPv4 addresses answered to A queries
	AAAA  []string // IPv6 addresses answered to AAAA queries
	// CNAME, when set, makes the answer start with "name CNAME CNAME" and the A and
	// AAAA records owned by CNAME.
	CNAME     string
	TTL       uint32 // zero means DefaultTTL
	BlackHole bool   // never send the real reply

	Forged    *Rule         // UDP: a reply built from this rule goes first
	Malformed bool          // a malformed packet goes first (UDP) or instead (streams)
	WrongID   bool          // UDP: a copy of the real reply with another id goes first
	Delay     time.Duration // before the real reply when early packets were sent; zero means DefaultDelay
}

// Answer returns a rule answering with addrs, sorted into A and AAAA by family.
// It panics on an address that does not parse: the addresses are test constants.
func Answer(addrs ...string) Rule {
	var r Rule
	for _, s := range addrs {
		addr := netip.MustParseAddr(s)
		if addr.Is4() {
			r.A = append(r.A, addr.String())
		} else {
			r.AAAA = append(r.AAAA, addr.String())
		}
	}
	return r
}

// NXDOMAIN returns a rule answering "no such name".
func NXDOMAIN() Rule { return Rule{Rcode: dns.RcodeNameError} }

// ServFail returns a rule answering SERVFAIL.
func ServFail() Rule { return Rule{Rcode: dns.RcodeServerFailure} }

// Refused returns a rule answering REFUSED.
func Refused() Rule { return Rule{Rcode: dns.RcodeRefused} }

// NoAnswer returns a rule answering NOERROR with no records.
func NoAnswer() Rule { return Rule{} }

// BlackHole returns a rule that never answers.
func BlackHole() Rule { return Rule{BlackHole: true} }

// Injected returns real preceded, on UDP, by a forged reply with forgedAddrs: what a
// client behind an on-path injector receives.
func Injected(forgedAddrs []string, real Rule) Rule {
	forged := Answer(forgedAddrs...)
	real.Forged = &forged
	return real
}

// Reply builds the reply rule gives to req. It is exported so that servers of other
// transports (a lab resolver, say) answer exactly as this one does.
func Reply(req *dns.Msg, rule Rule) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	m.Rcode = rule.Rcode
	if rule.Rcode != dns.RcodeSuccess || len(req.Question) != 1 {
		return m
	}
	q := req.Question[0]
	ttl := rule.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	owner := q.Name
	if rule.CNAME != "" {
		target := dns.Fqdn(rule.CNAME)
		m.Answer = append(m.Answer, &dns.CNAME{Hdr: header(owner, dns.TypeCNAME, ttl), Target: target})
		owner = target
	}
	switch q.Qtype {
	case dns.TypeA:
		for _, a := range rule.A {
			m.Answer = append(m.Answer, &dns.A{Hdr: header(owner, dns.TypeA, ttl), A: net.ParseIP(a)})
		}
	case dns.TypeAAAA:
		for _, a := range rule.AAAA {
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: header(owner, dns.TypeAAAA, ttl), AAAA: net.ParseIP(a)})
		}
	}
	return m
}

func header(name string, rrtype uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: ttl}
}

// MalformedReply returns bytes that start like a reply to req (its id, QR set, one
// question, five answers announced) and then stop in the middle of the question:
// no DNS decoder can unpack them.
func MalformedReply(req *dns.Msg) []byte {
	return []byte{
		byte(req.Id >> 8), byte(req.Id), 0x81, 0x80, // id, QR RD RA
		0, 1, 0, 5, 0, 0, 0, 0, // qdcount 1, ancount 5
		7, 'e', 'x', 'a', // a label that claims 7 bytes and has 3
	}
}

// normalName is the key of the rules map: lower case, fully qualified.
func normalName(name string) string { return strings.ToLower(dns.Fqdn(name)) }
