package netx

import (
	"sync"
	"sync/atomic"
	"time"
)

// Trace collects the events of one measurement. It is safe for concurrent use: a
// nettest measures several addresses at once and every primitive appends here.
type Trace struct {
	zero   time.Time
	now    func() time.Time
	nextID atomic.Int64

	mu            sync.Mutex
	events        Events
	responseBytes int // kept by requests events, bounded by MaxRecordedResponseBytes
	// certificateBytes are kept by handshake events, bounded by
	// MaxRecordedCertificateBytes.
	certificateBytes int
	asn              ASNLookup // nil: answers keep asn 0
}

// NewTrace returns a trace whose times count from zero. now is the clock; nil means
// time.Now.
func NewTrace(zero time.Time, now func() time.Time) *Trace {
	if now == nil {
		now = time.Now
	}
	return &Trace{zero: zero, now: now}
}

// Zero returns the measurement's zero time.
func (t *Trace) Zero() time.Time { return t.zero }

// Now returns the trace clock's current time.
func (t *Trace) Now() time.Time { return t.now() }

// Since returns the seconds elapsed between the zero time and when.
func (t *Trace) Since(when time.Time) float64 { return when.Sub(t.zero).Seconds() }

// Elapsed returns the seconds elapsed since the zero time, now.
func (t *Trace) Elapsed() float64 { return t.Since(t.now()) }

// NewTransactionID returns a fresh transaction id, starting at 1.
func (t *Trace) NewTransactionID() int64 { return t.nextID.Add(1) }

// AddQuery records a DNS query event.
func (t *Trace) AddQuery(ev DNSQueryEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ev.Answers = withASNs(ev.Answers, t.asn)
	t.events.Queries = append(t.events.Queries, ev)
}

// AddTCPConnect records a TCP connect event.
func (t *Trace) AddTCPConnect(ev TCPConnectEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events.TCPConnect = append(t.events.TCPConnect, ev)
}

// AddTLSHandshake records a TLS handshake event, its chain left out when it does not
// fit in what is left of MaxRecordedCertificateBytes.
func (t *Trace) AddTLSHandshake(ev TLSHandshakeEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fitChain(&ev)
	t.events.TLSHandshakes = append(t.events.TLSHandshakes, ev)
}

// AddQUICHandshake records a QUIC handshake event, as AddTLSHandshake.
func (t *Trace) AddQUICHandshake(ev TLSHandshakeEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fitChain(&ev)
	t.events.QUICHandshakes = append(t.events.QUICHandshakes, ev)
}

// AddRequest records an HTTP round trip, its response trimmed to what is left of
// MaxRecordedResponseBytes.
func (t *Trace) AddRequest(ev RequestEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fitResponse(&ev.Response)
	t.events.Requests = append(t.events.Requests, ev)
}

// AddNetworkEvent records a low-level I/O event.
func (t *Trace) AddNetworkEvent(ev NetworkEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events.NetworkEvents = append(t.events.NetworkEvents, ev)
}

// Events returns a copy of everything recorded so far. Requests are returned in
// reverse order (the last response first), as OONI's requests list; slices are never
// nil so that they encode as [] rather than null.
func (t *Trace) Events() Events {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := Events{
		Queries:        append([]DNSQueryEvent{}, t.events.Queries...),
		TCPConnect:     append([]TCPConnectEvent{}, t.events.TCPConnect...),
		TLSHandshakes:  append([]TLSHandshakeEvent{}, t.events.TLSHandshakes...),
		QUICHandshakes: append([]TLSHandshakeEvent{}, t.events.QUICHandshakes...),
		NetworkEvents:  append([]NetworkEvent{}, t.events.NetworkEvents...),
		Requests:       make([]RequestEvent, 0, len(t.events.Requests)),
	}
	for i := len(t.events.Requests) - 1; i >= 0; i-- {
		out.Requests = append(out.Requests, t.events.Requests[i])
	}
	return out
}
