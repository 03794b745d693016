package netx

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// ednsUDPSize is the EDNS(0) buffer size every query advertises: 1232 bytes is the
// value DNS Flag Day 2020 settled on so that replies fit in one unfragmented IPv6
// packet (https://www.dnsflagday.net/2020/).
const ednsUDPSize = 1232

// maxCNAMEChain bounds how many CNAMEs are followed inside one answer, so that a
// reply whose CNAMEs form a loop cannot keep the decoder busy.
const maxCNAMEChain = 16

// ErrBadHostname is returned by Lookup for a host that is neither an IP literal nor
// a valid domain name: bad input, not a network result.
var ErrBadHostname = errors.New("netx: invalid hostname")

// CheckHostname returns an error wrapping ErrBadHostname unless host is an IP
// literal or a syntactically valid domain name of at most 253 characters.
func CheckHostname(host string) error {
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	name := strings.TrimSuffix(host, ".")
	if name == "" || len(name) > 253 || strings.ContainsAny(name, " \t\r\n/\\@:") {
		return fmt.Errorf("%w: %q", ErrBadHostname, host)
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return fmt.Errorf("%w: %q", ErrBadHostname, host)
	}
	return nil
}

// newDNSQuery builds a recursive query for host and qtype with a random id and an
// EDNS(0) record.
func newDNSQuery(host string, qtype uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(host), qtype)
	q.RecursionDesired = true
	q.SetEdns0(ednsUDPSize, false)
	return q
}

// dnsReply is one reply decoded into what a query event records.
type dnsReply struct {
	Rcode   int
	Answers []DNSAnswer // CNAME, A and AAAA records on the chain from the question
	Addrs   []string    // the addresses of the asked family, in reply order
	Err     error       // rcode or no-answer failure; nil when Addrs is not empty
}

// decodeDNSReply unpacks raw and turns it into answers. The error is about the packet
// itself (malformed, not a response, not answering the question); a well-formed
// reply that carries a failure (NXDOMAIN, no records) has a nil error and reply.Err
// set. It never panics, whatever raw holds.
func decodeDNSReply(raw []byte, qname string, qtype uint16) (*dnsReply, *dns.Msg, error) {
	msg := new(dns.Msg)
	if err := msg.Unpack(raw); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errDNSMalformed, err)
	}
	if !msg.Response {
		return nil, msg, fmt.Errorf("%w: QR bit not set", errDNSMalformed)
	}
	if !answersQuestion(msg, qname, qtype) {
		return nil, msg, errDNSMismatch
	}
	return replyFromMsg(msg, qname, qtype), msg, nil
}

// errDNSMalformed and errDNSMismatch describe packets that are not a usable reply.
var (
	errDNSMalformed = errors.New("dns: malformed reply")
	errDNSMismatch  = errors.New("dns: reply does not answer the question")
)

// answersQuestion reports whether msg carries exactly the question asked. Names are
// compared case-insensitively (RFC 4343).
func answersQuestion(msg *dns.Msg, qname string, qtype uint16) bool {
	if len(msg.Question) != 1 {
		return false
	}
	q := msg.Question[0]
	return q.Qtype == qtype && q.Qclass == dns.ClassINET && strings.EqualFold(q.Name, dns.Fqdn(qname))
}

// replyFromMsg follows the CNAME chain from qname inside the answer section and
// keeps the records of the chain, ignoring records owned by unrelated names.
func replyFromMsg(msg *dns.Msg, qname string, qtype uint16) *dnsReply {
	r := &dnsReply{Rcode: msg.Rcode}
	if msg.Rcode != dns.RcodeSuccess {
		r.Err = &DNSRcodeError{Rcode: msg.Rcode}
		return r
	}
	chain := map[string]bool{strings.ToLower(dns.Fqdn(qname)): true}
	current := strings.ToLower(dns.Fqdn(qname))
	for range maxCNAMEChain {
		next := ""
		for _, rr := range msg.Answer {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, current) {
				next = strings.ToLower(c.Target)
				r.Answers = append(r.Answers, DNSAnswer{AnswerType: "CNAME", Hostname: c.Target, TTL: ttlOf(rr)})
				break
			}
		}
		if next == "" || chain[next] {
			break
		}
		chain[next], current = true, next
	}
	for _, rr := range msg.Answer {
		if !chain[strings.ToLower(rr.Header().Name)] {
			continue
		}
		switch v := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
				r.Answers = append(r.Answers, DNSAnswer{AnswerType: "A", IPv4: a.String(), TTL: ttlOf(rr)})
				if qtype == dns.TypeA {
					r.Addrs = append(r.Addrs, a.String())
				}
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(v.AAAA.To16()); ok {
				r.Answers = append(r.Answers, DNSAnswer{AnswerType: "AAAA", IPv6: a.String(), TTL: ttlOf(rr)})
				if qtype == dns.TypeAAAA {
					r.Addrs = append(r.Addrs, a.String())
				}
			}
		}
	}
	if len(r.Addrs) == 0 {
		r.Err = ErrDNSNoAnswer
	}
	return r
}

func ttlOf(rr dns.RR) *uint32 {
	ttl := rr.Header().Ttl
	return &ttl
}

// fingerprint summarises what a reply says (rcode and the sorted record data, TTLs
// left out) so that two replies to one query can be compared: a resolver that
// retransmits sends the same data, an injector different data.
func (r *dnsReply) fingerprint() string {
	parts := make([]string, 0, len(r.Answers))
	for _, a := range r.Answers {
		parts = append(parts, a.AnswerType+"="+strings.ToLower(a.IPv4+a.IPv6+a.Hostname))
	}
	sort.Strings(parts)
	return fmt.Sprintf("rcode=%d;%s", r.Rcode, strings.Join(parts, ","))
}

// queryTypeName returns "A" or "AAAA" for the event's query_type.
func queryTypeName(qtype uint16) string { return dns.TypeToString[qtype] }
