package netx

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Engine names of DNSQueryEvent.Engine, as OONI spells them.
const (
	EngineSystem = "system"
	EngineUDP    = "udp"
	EngineTCP    = "tcp"
	EngineDoT    = "dot"
	EngineDoH    = "doh"
)

// ErrBadResolverURL is returned by Lookup for a resolver URL it cannot use: bad
// configuration, not a network result.
var ErrBadResolverURL = errors.New("netx: invalid resolver URL")

// DNSResult is what one Lookup found.
type DNSResult struct {
	Engine          string // one of the Engine* names
	ResolverAddress string // IP:port, the DoH URL, or "" for the system resolver
	Hostname        string
	// Addrs are the addresses of the first valid reply to each query, A first then
	// AAAA, without duplicates. Late duplicate replies never add addresses: a stub
	// resolver would have used the first reply, so that is what the site gets.
	Addrs []string
	// Rcode is the rcode of the query whose failure is the result's (see Lookup).
	Rcode int
	// Injected is true when a UDP query got two valid replies carrying different
	// data: the evidence of on-path injection.
	Injected bool
	// Ignored counts UDP datagrams dropped because they were malformed or did not
	// match the query's id and question.
	Ignored int
	// Queries are the events this lookup recorded on the trace, A events first.
	Queries []DNSQueryEvent
	// Failure is the classified failure of the lookup, nil on success.
	Failure *string
}

// DNSOptions tunes Lookup; the zero value gives the defaults.
type DNSOptions struct {
	// DuplicateWindow is how long a UDP socket stays open after the first valid
	// reply to catch late ones; zero means DefaultDuplicateWindow, negative means
	// do not wait. The wait never outlasts the step timeout.
	DuplicateWindow time.Duration
	// MaxUDPReplies caps the datagrams read for one UDP query, valid or not; zero
	// means DefaultMaxUDPReplies.
	MaxUDPReplies int
	// Retransmit is how long a UDP query waits for a valid reply before it is sent
	// again (at most DefaultMaxRetransmits times, within the step timeout); zero
	// means DefaultRetransmit, negative means never resend.
	Retransmit time.Duration
}

// Lookup resolves host (A and AAAA, concurrently) with the resolver named by
// resolverURL: "system" (or ""), "udp://IP[:PORT]", "tcp://IP[:PORT]",
// "tls://HOST[:PORT]" (DNS over TLS) or "https://HOST/PATH" (DNS over HTTPS). It
// records one queries event per query on trace and, for UDP, one more per late
// duplicate reply. An IP literal is returned as it is, with no query.
//
// The result's failure is the A query's, unless the A query failed and the AAAA
// query succeeded: then the lookup succeeded. A nil error means at least one
// address. The error is classified (*Error) for network failures, and wraps
// ErrBadResolverURL or ErrBadHostname (with a nil result) for bad input.
func (c *Client) Lookup(ctx context.Context, trace *Trace, resolverURL, host string) (*DNSResult, error) {
	return c.LookupWithOptions(ctx, trace, resolverURL, host, DNSOptions{})
}

// LookupWithOptions is Lookup with explicit options.
func (c *Client) LookupWithOptions(ctx context.Context, trace *Trace, resolverURL, host string, opts DNSOptions) (*DNSResult, error) {
	if c == nil {
		c = &Client{}
	}
	if trace == nil {
		trace = NewTrace(time.Now(), nil)
	}
	spec, err := parseResolverURL(resolverURL)
	if err != nil {
		return nil, err
	}
	if err := CheckHostname(host); err != nil {
		return nil, err
	}
	res := &DNSResult{Engine: spec.engine, ResolverAddress: spec.address, Hostname: host, Queries: []DNSQueryEvent{}}
	if addr, err := netip.ParseAddr(host); err == nil {
		res.Addrs = []string{addr.String()}
		return res, nil
	}
	engine, closeEngine := c.newDNSEngine(spec, opts)
	defer closeEngine()

	// Ids are taken, and events recorded, in a fixed order (A then AAAA) so that a
	// measurement reads the same whichever query finished first.
	qtypes := [2]uint16{dns.TypeA, dns.TypeAAAA}
	var outcomes [2]queryOutcome
	var wg sync.WaitGroup
	early := newEarlyAnswer(ctx) // nil without a WithEarlyAnswer hook
	for i, qtype := range qtypes {
		txID := trace.NewTransactionID()
		qctx := ctx
		if early != nil {
			qctx = withFirstReply(ctx, func(r *dnsReply) { early.reply(i, outcomeOfReply(r)) })
		}
		wg.Go(func() {
			outcomes[i] = engine.query(qctx, trace, host, qtype, txID)
			early.reply(i, outcomes[i]) // a no-op when the first reply told already
		})
	}
	wg.Wait()
	for _, o := range outcomes {
		for _, ev := range o.events {
			trace.AddQuery(ev)
			res.Queries = append(res.Queries, ev)
		}
	}
	return res, mergeOutcomes(res, outcomes[0], outcomes[1])
}

// mergeOutcomes fills res from the A and AAAA outcomes and returns the lookup's
// error, following the rule documented on Lookup.
func mergeOutcomes(res *DNSResult, a, aaaa queryOutcome) error {
	seen := map[string]bool{}
	for _, addr := range append(append([]string{}, a.addrs...), aaaa.addrs...) {
		if !seen[addr] {
			seen[addr] = true
			res.Addrs = append(res.Addrs, addr)
		}
	}
	res.Injected = a.injected || aaaa.injected
	res.Ignored = a.ignored + aaaa.ignored
	chosen := a
	if a.err != nil && aaaa.err == nil {
		chosen = aaaa
	}
	res.Rcode = chosen.rcode
	res.Failure = FailureOf(chosen.err)
	return chosen.err
}

// queryOutcome is what one query (A or AAAA) produced.
type queryOutcome struct {
	events   []DNSQueryEvent
	addrs    []string
	rcode    int
	err      error // classified
	injected bool
	ignored  int
}

// dnsEngine runs one query and builds its events.
type dnsEngine interface {
	query(ctx context.Context, trace *Trace, host string, qtype uint16, txID int64) queryOutcome
}

// CheckResolverURL returns an error wrapping ErrBadResolverURL unless Lookup accepts
// raw as a resolver URL. It sends nothing.
func CheckResolverURL(raw string) error {
	_, err := parseResolverURL(raw)
	return err
}

// resolverSpec is a parsed resolver URL.
type resolverSpec struct {
	engine  string
	address string // IP:port or HOST:port; the whole URL for DoH
}

// parseResolverURL parses the resolver URLs Lookup accepts. UDP and TCP resolvers
// must be IP literals: resolving the resolver's own name would need a resolver.
func parseResolverURL(raw string) (resolverSpec, error) {
	if raw == "" || raw == EngineSystem {
		return resolverSpec{engine: EngineSystem}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return resolverSpec{}, fmt.Errorf("%w: %q: %w", ErrBadResolverURL, raw, err)
	}
	bad := func(why string) (resolverSpec, error) {
		return resolverSpec{}, fmt.Errorf("%w: %q: %s", ErrBadResolverURL, raw, why)
	}
	if u.Hostname() == "" {
		return bad("no host")
	}
	switch strings.ToLower(u.Scheme) {
	case "udp", "tcp":
		if _, err := netip.ParseAddr(u.Hostname()); err != nil {
			return bad("the host must be an IP address")
		}
		return resolverSpec{engine: strings.ToLower(u.Scheme), address: hostPort(u, "53")}, nil
	case "tls":
		return resolverSpec{engine: EngineDoT, address: hostPort(u, "853")}, nil
	case "https":
		return resolverSpec{engine: EngineDoH, address: u.String()}, nil
	}
	return bad("scheme must be udp, tcp, tls or https")
}

func hostPort(u *url.URL, defaultPort string) string {
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	host := u.Hostname()
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// newDNSEngine builds the engine for spec; the returned func releases what it
// holds (the DoH client's idle connections).
func (c *Client) newDNSEngine(spec resolverSpec, opts DNSOptions) (dnsEngine, func()) {
	timeout := c.StepTimeout()
	wire := &wireEngine{engine: spec.engine, address: spec.address, timeout: timeout}
	switch spec.engine {
	case EngineSystem:
		return newSystemEngine(timeout), func() {}
	case EngineUDP:
		wire.transport = newUDPTransport(spec.address, opts, c.packetDialer())
	case EngineTCP:
		wire.transport = &streamTransport{address: spec.address, dial: c.dialer()}
	case EngineDoT:
		wire.transport = &streamTransport{address: spec.address, tls: c.dotConfig(spec.address), dial: c.dialer()}
	case EngineDoH:
		doh := newDoHTransport(spec.address, c.Roots, timeout, c.dialer())
		wire.transport, wire.zeroID = doh, true
		return wire, doh.close
	}
	return wire, func() {}
}
