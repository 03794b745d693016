package netx

import (
	"context"
	"sync"
)

// The early answer: a UDP lookup holds its socket open for DuplicateWindow after
// the first valid reply, to record late (injected) duplicates, but the addresses
// it returns are those of the first replies and cannot change during the window.
// A caller that wants to go on with them at once (web_connectivity connects while
// the window is open) sets a hook with WithEarlyAnswer; the lookup still waits the
// window out, records every duplicate and judges injection as before.

type earlyAnswerKey struct{}

// WithEarlyAnswer returns a context under which Lookup calls f at most once, as
// soon as both of its queries (A and AAAA) have their first valid reply or have
// ended, with the addresses and error the lookup will return. f runs on one of the
// lookup's goroutines and must not block.
func WithEarlyAnswer(ctx context.Context, f func(addrs []string, err error)) context.Context {
	return context.WithValue(ctx, earlyAnswerKey{}, f)
}

// firstReplyKey carries, into one query's transport, the function told of the
// query's first valid reply.
type firstReplyKey struct{}

func withFirstReply(ctx context.Context, f func(*dnsReply)) context.Context {
	return context.WithValue(ctx, firstReplyKey{}, f)
}

// tellFirstReply tells the query's hook, if any, of its first valid reply.
func tellFirstReply(ctx context.Context, r *dnsReply) {
	if f, ok := ctx.Value(firstReplyKey{}).(func(*dnsReply)); ok && f != nil {
		f(r)
	}
}

// earlyAnswer gathers the first reply (or the end) of the A and AAAA queries and
// calls the hook once both are in, with what mergeOutcomes will return.
type earlyAnswer struct {
	mu   sync.Mutex
	f    func(addrs []string, err error)
	in   [2]bool
	outs [2]queryOutcome
	told bool
}

func newEarlyAnswer(ctx context.Context) *earlyAnswer {
	f, _ := ctx.Value(earlyAnswerKey{}).(func([]string, error))
	if f == nil {
		return nil
	}
	return &earlyAnswer{f: f}
}

// reply records query i's first reply (or its outcome when it ended without one).
func (e *earlyAnswer) reply(i int, o queryOutcome) {
	if e == nil {
		return
	}
	e.mu.Lock()
	if e.in[i] || e.told {
		e.mu.Unlock()
		return
	}
	e.in[i], e.outs[i] = true, o
	if !e.in[0] || !e.in[1] {
		e.mu.Unlock()
		return
	}
	e.told = true
	res := &DNSResult{}
	err := mergeOutcomes(res, e.outs[0], e.outs[1])
	e.mu.Unlock()
	e.f(res.Addrs, err)
}

// outcomeOfReply is the part of a query's outcome its first reply fixes.
func outcomeOfReply(r *dnsReply) queryOutcome {
	return queryOutcome{addrs: r.Addrs, rcode: r.Rcode, err: Wrap("resolve", r.Err)}
}
