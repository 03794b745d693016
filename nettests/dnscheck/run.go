package dnscheck

import (
	"context"
	"strings"
	"sync"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/internal/service"
	"github.com/vantage-probe/vantage/probe/netx"
)

// Run measures every resolver: a TLS handshake with it (so that a reset on its
// SNI reads tls.reset, not a DNS failure), then each test name through it; then
// the local resolver; then the answers are compared.
func (m *Measurer) Run(ctx context.Context, input string, trace *netx.Trace) (any, error) {
	if err := service.CheckNoInput(Name, input); err != nil {
		return nil, err
	}
	nc, names, targets := m.base.Netx, m.base.List.Names, m.base.List.Targets
	var mu sync.Mutex
	answers := map[string]map[string]Lookup{}
	eps := m.base.MeasureAll(ctx, targets, func(ctx context.Context, t service.Target) service.Observation {
		got, o := m.measureResolver(ctx, trace, t, names)
		mu.Lock()
		answers[t.ID] = got
		mu.Unlock()
		return o
	})
	tk := &TestKeys{Domain: names[0], Resolvers: map[string]Resolver{}, total: len(targets)}
	tk.Local = Resolver{URL: localURL(nc.Resolver), Lookups: lookupAll(ctx, nc, trace, nc.Resolver, names)}
	for _, t := range targets {
		tk.Resolvers[t.ID] = Resolver{URL: resolverURL(t), Lookups: answers[t.ID]}
	}
	inconsistent := tk.compare(names)
	reason := service.NetworkReason(ctx, m.base.Env, eps)
	service.Judge(eps, reason)
	for i := range eps {
		if inconsistent[eps[i].ID] && eps[i].Verdict == service.VerdictOK && reason == "" {
			method := nettests.MethodDNSInconsistent
			eps[i].Verdict, eps[i].Method = service.VerdictBlocked, &method
		}
		if eps[i].Verdict == service.VerdictOK {
			tk.usable++
		}
	}
	tk.Endpoints = eps
	tk.Set(service.Decide(m.roles, eps, reason))
	tk.Events = trace.Events()
	tk.Lookups = lookupsByResolver(tk.Events.Queries, targets)
	return tk, nil
}

// measureResolver handshakes with t and looks every name up through it. The
// observation fails with the handshake's failure, or with the first lookup's
// when no name resolved.
func (m *Measurer) measureResolver(ctx context.Context, trace *netx.Trace, t service.Target, names []string) (map[string]Lookup, service.Observation) {
	alpn := []string{"dot"}
	if t.Path != "" {
		alpn = []string{"h2", "http/1.1"}
	}
	o := service.Handshake(ctx, m.base.Netx, trace, t, nil, alpn)
	if !o.OK() {
		return map[string]Lookup{}, o
	}
	got := lookupAll(ctx, pinned(m.base.Netx, t), trace, resolverURL(t), names)
	for _, n := range names {
		if got[n].Failure == nil {
			return got, o
		}
	}
	first := got[names[0]].Failure
	return got, service.Observation{Addrs: o.Addrs, Failure: first, Operation: "resolve"}
}

func lookupAll(ctx context.Context, nc *netx.Client, trace *netx.Trace, resolver string, names []string) map[string]Lookup {
	out := make(map[string]Lookup, len(names))
	for _, n := range names {
		// No duplicate window: dnscheck compares answers, it does not look for
		// injected replies (web_connectivity does), and the window would cost
		// half a second per name on a UDP resolver.
		res, err := nc.LookupWithOptions(ctx, trace, resolver, n, netx.DNSOptions{DuplicateWindow: -1})
		l := Lookup{Addrs: []string{}, Failure: netx.FailureOf(err)}
		if err == nil {
			l.Addrs = append(l.Addrs, res.Addrs...)
		}
		out[n] = l
	}
	return out
}

func localURL(resolver string) string {
	if resolver == "" {
		return netx.EngineSystem
	}
	return resolver
}

// compare marks every answer consistent or not (it shares an address with
// another encrypted resolver's answer for the name) and returns the resolvers
// with an inconsistent answer. The local answers are compared with all of them.
func (tk *TestKeys) compare(names []string) map[string]bool {
	inconsistent := map[string]bool{}
	for _, n := range names {
		for id, r := range tk.Resolvers {
			others := map[string]bool{}
			for other, o := range tk.Resolvers {
				if other != id {
					addAll(others, o.Lookups[n].Addrs)
				}
			}
			if c := judgeAnswer(r.Lookups, n, others); c != nil && !*c {
				inconsistent[id] = true
			}
		}
		all := map[string]bool{}
		for _, r := range tk.Resolvers {
			addAll(all, r.Lookups[n].Addrs)
		}
		if c := judgeAnswer(tk.Local.Lookups, n, all); c != nil {
			if tk.LocalConsistent == nil || !*c {
				tk.LocalConsistent = c
			}
		}
	}
	return inconsistent
}

// judgeAnswer sets and returns the consistency of lookups[name] against others;
// nil when there is nothing to compare (no answer, or no other answer).
func judgeAnswer(lookups map[string]Lookup, name string, others map[string]bool) *bool {
	l, ok := lookups[name]
	if !ok || len(l.Addrs) == 0 || len(others) == 0 {
		return nil
	}
	c := false
	for _, a := range l.Addrs {
		c = c || others[a]
	}
	l.Consistent = &c
	lookups[name] = l
	return &c
}

func addAll(set map[string]bool, addrs []string) {
	for _, a := range addrs {
		set[a] = true
	}
}

// lookupsByResolver is OONI's lookups key: every query, by resolver URL.
func lookupsByResolver(queries []netx.DNSQueryEvent, targets []service.Target) map[string][]netx.DNSQueryEvent {
	byAddress := map[string]string{}
	for _, t := range targets {
		u := resolverURL(t)
		byAddress[strings.TrimPrefix(u, "tls://")] = u
		byAddress[u] = u
	}
	out := map[string][]netx.DNSQueryEvent{}
	for _, q := range queries {
		if u, ok := byAddress[q.ResolverAddress]; ok {
			out[u] = append(out[u], q)
		}
	}
	return out
}

// SkippedTestKeys are the keys of a measurement not made because the network was
// down: inconclusive with the network's reason.
func SkippedTestKeys(reason string) *TestKeys {
	return &TestKeys{Events: service.EmptyEvents(), Keys: service.Skipped(reason), Lookups: map[string][]netx.DNSQueryEvent{}, Resolvers: map[string]Resolver{}}
}
