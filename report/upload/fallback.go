package upload

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http/httptrace"
	"sync"
	"time"
)

// Failure is one failed try of one route.
type Failure struct {
	Route Route
	// Operation is where a transport error happened: "resolve", "connect" (to
	// the collector, the front or the proxy), "tls_handshake" or
	// "http_round_trip"; "" when the route answered.
	Operation string
	// Err is the transport error, nil when the route answered.
	Err error
	// Status is the HTTP status of an answer that is not the collector's
	// acknowledgement (a 5xx, a 429, a 200 block page, a 404 of a wrong URL).
	Status int
	// Detail is the failure in words (the error text or the status and the
	// collector's reason).
	Detail  string
	Start   time.Time
	Elapsed time.Duration
}

// Blocked reports whether the failure looks like a blocked path rather than a
// collector that answered: a transport error, or a 200 that is not the
// collector's acknowledgement.
func (f Failure) Blocked() bool { return f.Err != nil || f.Status == 200 }

// RouteReport is what one route did in a drain.
type RouteReport struct {
	Route Route
	// Answered counts requests the collector answered through this route
	// (acknowledged, or a line refused).
	Answered int
	// Failed counts the route's failed tries; Last is the last of them.
	Failed int
	Last   *Failure
}

// drain is one Drain's state: the queue, the result, and what it learnt of the
// routes.
type drain struct {
	c      *Client
	q      Queue
	res    *Result
	memory RouteMemory // nil when q keeps no route
	first  int         // the route tried first
	key    string      // the remembered route's key
	told   map[int]bool
}

func (c *Client) newDrain(ctx context.Context, q Queue, res *Result) *drain {
	d := &drain{c: c, q: q, res: res, told: map[int]bool{}}
	m, ok := q.(RouteMemory)
	if !ok {
		return d
	}
	d.memory = m
	key, err := m.PreferredRoute(ctx)
	if err != nil {
		c.logf("upload: reading the remembered route: %v", err)
		return d
	}
	d.key = key
	for i, r := range c.routes() {
		if r.String() == key {
			d.first = i
		}
	}
	return d
}

// order is the routes' indices, the first one first, then the others in order.
func (d *drain) order() []int {
	n := len(d.c.routes())
	out := make([]int, 0, n)
	out = append(out, d.first)
	for i := range n {
		if i != d.first {
			out = append(out, i)
		}
	}
	return out
}

// answered records that route i reached the collector: it is tried first for
// the rest of the drain and, through RouteMemory, in the next one.
func (d *drain) answered(ctx context.Context, i int) {
	d.res.Routes[i].Answered++
	d.first = i
	key := d.c.routes()[i].String()
	if d.memory == nil || key == d.key {
		return
	}
	if err := d.memory.SetPreferredRoute(ctx, key); err != nil {
		d.c.logf("upload: remembering route %s: %v", key, err)
		return
	}
	d.key = key
}

// failed records a failed try of route i and tells OnRouteFailure about the
// first blocked-looking failure of each route.
func (d *drain) failed(ctx context.Context, i int, a answer) {
	f := Failure{Route: d.c.routes()[i], Operation: a.operation, Err: a.err, Status: a.status,
		Detail: a.String(), Start: a.start, Elapsed: a.elapsed}
	rr := &d.res.Routes[i]
	rr.Failed++
	rr.Last = &f
	if len(d.c.routes()) > 1 {
		d.c.logf("upload: route %s failed: %s", f.Route, f.Detail)
	}
	if f.Blocked() && !d.told[i] && d.c.OnRouteFailure != nil {
		d.told[i] = true
		d.c.OnRouteFailure(ctx, f)
	}
}

// phases follows one request through httptrace to tell where a transport
// error happened.
type phases struct {
	mu                   sync.Mutex
	dnsFailed            bool
	tlsStarted, tlsEnded bool
	tlsFailed            bool
	gotConn              bool
}

func (p *phases) trace() *httptrace.ClientTrace {
	set := func(f func()) { p.mu.Lock(); f(); p.mu.Unlock() }
	return &httptrace.ClientTrace{
		DNSDone:           func(i httptrace.DNSDoneInfo) { set(func() { p.dnsFailed = i.Err != nil }) },
		TLSHandshakeStart: func() { set(func() { p.tlsStarted = true }) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			set(func() { p.tlsEnded, p.tlsFailed = true, err != nil })
		},
		GotConn: func(httptrace.GotConnInfo) { set(func() { p.gotConn = true }) },
	}
}

// operation names the step that failed, in the vocabulary of netx.
func (p *phases) operation() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.gotConn:
		return "http_round_trip"
	case p.tlsStarted && (p.tlsFailed || !p.tlsEnded):
		return "tls_handshake"
	case p.dnsFailed:
		return "resolve"
	}
	return "connect"
}

// String is the failure for a person: the route, where and how it failed.
func (f Failure) String() string {
	if f.Operation != "" {
		return fmt.Sprintf("%s: %s", f.Operation, f.Detail)
	}
	return f.Detail
}
