package netx

import "net/netip"

// ASNLookup tells the autonomous system an address belongs to, from an IP
// database the probe was given ([probe] asn_db); number 0 means not known.
type ASNLookup func(ip netip.Addr) (asn int64, org string)

// SetASNLookup makes the trace fill the asn and as_org_name of every A and AAAA
// answer it records (OONI's df-002 fields, 0 and "" otherwise). Set it before the
// measurement starts.
func (t *Trace) SetASNLookup(f ASNLookup) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.asn = f
}

// withASNs returns answers with their AS filled, in a new slice: events may share
// one reply's answers.
func withASNs(answers []DNSAnswer, f ASNLookup) []DNSAnswer {
	if f == nil || len(answers) == 0 {
		return answers
	}
	out := make([]DNSAnswer, len(answers))
	copy(out, answers)
	for i := range out {
		ip, err := netip.ParseAddr(out[i].IPv4 + out[i].IPv6)
		if err != nil || out[i].ASN != 0 {
			continue
		}
		out[i].ASN, out[i].ASOrgName = f(ip.Unmap())
	}
	return out
}
