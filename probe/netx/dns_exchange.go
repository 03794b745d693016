package netx

import (
	"context"
	"errors"
	"time"

	"github.com/miekg/dns"
)

// ErrDNSServerMisbehaving is returned when a DNS server answers with something that
// is not a usable reply: a malformed packet, a DoH response that is not
// application/dns-message, too many unusable datagrams.
var ErrDNSServerMisbehaving = errors.New("dns: server misbehaving")

// ErrDNSWrongQueryID is returned when a stream (TCP, DoT, DoH) reply does not carry
// the id and question of the query it answers.
var ErrDNSWrongQueryID = errors.New("dns: reply with wrong query id or question")

// dnsTransport sends one query and returns the valid replies to it: the first is
// the answer, any further ones (UDP only) are late duplicates. ignored counts the
// datagrams dropped as unusable. On error no reply is returned.
type dnsTransport interface {
	exchange(ctx context.Context, q *dns.Msg, now func() time.Time) (replies []timedReply, ignored int, err error)
}

// timedReply is one valid reply and when it arrived, on the trace's clock.
type timedReply struct {
	raw   []byte
	at    time.Time
	reply *dnsReply
	id    uint16 // the id of the copy it answers (UDP resends each carry their own)
}

// wireEngine runs queries over a wire transport (UDP, TCP, DoT, DoH) and turns
// what came back into events.
type wireEngine struct {
	engine    string
	address   string
	timeout   time.Duration
	transport dnsTransport
	zeroID    bool // DoH: id 0, RFC 8484 section 4.1, for cache friendliness
}

var _ dnsEngine = (*wireEngine)(nil)

func (e *wireEngine) query(ctx context.Context, trace *Trace, host string, qtype uint16, txID int64) queryOutcome {
	q := newDNSQuery(host, qtype)
	if e.zeroID {
		q.Id = 0
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	base := DNSQueryEvent{
		Engine:          e.engine,
		ResolverAddress: e.address,
		Hostname:        host,
		QueryType:       queryTypeName(qtype),
		T0:              trace.Elapsed(),
		Tags:            []string{},
		TransactionID:   txID,
	}
	replies, ignored, err := e.transport.exchange(ctx, q, trace.Now)
	out := queryOutcome{ignored: ignored}
	if err != nil {
		out.err = Wrap("resolve", err)
		ev := base
		ev.T = trace.Elapsed()
		ev.Failure = FailureOf(out.err)
		out.events = []DNSQueryEvent{ev}
		return out
	}
	first := replies[0].reply
	// Injection is two replies to the same copy of the query saying different
	// things; replies to different copies (UDP resends) are not compared.
	firstPrint := map[uint16]string{}
	for i, r := range replies {
		out.events = append(out.events, replyEvent(base, r, trace, i > 0))
		fp := r.reply.fingerprint()
		if p, seen := firstPrint[r.id]; !seen {
			firstPrint[r.id] = fp
		} else if p != fp {
			out.injected = true
		}
	}
	out.addrs, out.rcode = first.Addrs, first.Rcode
	out.err = Wrap("resolve", first.Err)
	return out
}

// replyEvent is the event of one valid reply.
func replyEvent(base DNSQueryEvent, r timedReply, trace *Trace, duplicate bool) DNSQueryEvent {
	ev := base
	ev.T = trace.Since(r.at)
	ev.Rcode = r.reply.Rcode
	ev.RawResponse = r.raw
	ev.XDuplicate = duplicate
	if r.reply.Err != nil {
		ev.Failure = FailureOf(Wrap("resolve", r.reply.Err))
	}
	if len(r.reply.Answers) > 0 {
		ev.Answers = r.reply.Answers
	}
	return ev
}

// contextError prefers the context's error to the I/O error it caused: a read that
// failed because the step timed out is a timeout, one that failed because the
// caller gave up is an interruption.
func contextError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return err
}
