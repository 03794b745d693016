package netx

import (
	"context"
	"net"
	"time"

	"github.com/miekg/dns"
)

// systemEngine asks the operating system's resolver (getaddrinfo or Go's own,
// whichever net.Resolver picks). It sees no wire messages: events carry addresses
// but no raw response, TTL or rcode.
type systemEngine struct {
	resolver *net.Resolver
	timeout  time.Duration
}

var _ dnsEngine = (*systemEngine)(nil)

func newSystemEngine(timeout time.Duration) *systemEngine {
	return &systemEngine{resolver: &net.Resolver{}, timeout: timeout}
}

func (e *systemEngine) query(ctx context.Context, trace *Trace, host string, qtype uint16, txID int64) queryOutcome {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	network := "ip4"
	if qtype == dns.TypeAAAA {
		network = "ip6"
	}
	ev := DNSQueryEvent{
		Engine:        EngineSystem,
		Hostname:      host,
		QueryType:     queryTypeName(qtype),
		T0:            trace.Elapsed(),
		Tags:          []string{},
		TransactionID: txID,
	}
	ips, err := e.resolver.LookupNetIP(ctx, network, host)
	ev.T = trace.Elapsed()
	if err == nil && len(ips) == 0 {
		err = ErrDNSNoAnswer
	}
	var out queryOutcome
	if err != nil {
		out.err = Wrap("resolve", err)
		ev.Failure = FailureOf(out.err)
		out.events = []DNSQueryEvent{ev}
		return out
	}
	for _, ip := range ips {
		ip = ip.Unmap()
		a := DNSAnswer{AnswerType: "A", IPv4: ip.String()}
		if ip.Is6() {
			a = DNSAnswer{AnswerType: "AAAA", IPv6: ip.String()}
		}
		ev.Answers = append(ev.Answers, a)
		out.addrs = append(out.addrs, ip.String())
	}
	out.events = []DNSQueryEvent{ev}
	return out
}
