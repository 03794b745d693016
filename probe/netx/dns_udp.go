package netx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
)

// DefaultDuplicateWindow is how long a UDP query's socket stays open after the first
// valid reply. An on-path injector answers from near the probe, the real resolver
// after its full round trip, so the genuine reply trails the forged one by about
// the resolver's RTT minus the injector's. Half a second covers terrestrial paths
// (intercontinental RTTs are mostly under 300 ms) with margin, while adding at most
// half a second to a lookup (A and AAAA wait together). The "Hold-On" defence of
// Duan, Weaver et al. (2012) waits in the same way, for about the expected RTT.
const DefaultDuplicateWindow = 500 * time.Millisecond

// DefaultRetransmit is how long a UDP query waits for a valid reply before the
// query is sent again, within the same step. A lost datagram is ordinary on a radio
// link; without a resend one lost query (or reply) costs the whole step timeout and
// reads as a DNS timeout. Stub resolvers resend after about a second: glibc after
// its 'timeout' option (RES_TIMEOUT), systemd-resolved from a one-second initial
// timeout; a reply on a terrestrial path is back well within it, so a resend
// before then would only double the load. Each resend carries a fresh id, so a
// late reply to an earlier copy is never compared with a reply to a later one
// (two honest answers of a round-robin resolver must not look like injection).
const DefaultRetransmit = time.Second

// DefaultMaxRetransmits bounds the resends of one query: three resends a second
// apart cover the step timeout's floor (2 s) and more, and with a few percent of
// loss per packet four copies all lost is rarer than one in a million.
const DefaultMaxRetransmits = 3

// DefaultMaxUDPReplies caps the datagrams read for one query. A resolver sends one,
// an injector one or a few more; a flood past this cap is not read.
const DefaultMaxUDPReplies = 16

// maxUDPReplySize is the read buffer for one datagram. Queries advertise an EDNS(0)
// size of 1232 bytes; 4096 leaves room for servers that ignore it (RFC 6891 section
// 6.2.5 names 4096 as the usual starting value). A longer datagram is cut by the
// kernel, fails to unpack and counts as ignored.
const maxUDPReplySize = 4096

// udpTransport sends one query in one datagram and listens for every reply.
type udpTransport struct {
	address        string
	window         time.Duration // <= 0: return after the first valid reply
	maxReplies     int
	retransmit     time.Duration // <= 0: never resend
	maxRetransmits int
	dial           PacketDialFunc // Client.DialPacket: the one UDP seam
}

var _ dnsTransport = (*udpTransport)(nil)

func newUDPTransport(address string, opts DNSOptions, dial PacketDialFunc) *udpTransport {
	t := &udpTransport{address: address, window: opts.DuplicateWindow, maxReplies: opts.MaxUDPReplies, dial: dial}
	if t.window == 0 {
		t.window = DefaultDuplicateWindow
	}
	if t.maxReplies <= 0 {
		t.maxReplies = DefaultMaxUDPReplies
	}
	switch {
	case opts.Retransmit == 0:
		t.retransmit = DefaultRetransmit
	case opts.Retransmit > 0:
		t.retransmit = opts.Retransmit
	}
	t.maxRetransmits = DefaultMaxRetransmits
	return t
}

func (t *udpTransport) exchange(ctx context.Context, q *dns.Msg, now func() time.Time) ([]timedReply, int, error) {
	conn, err := dialPacketTo(ctx, t.dial, t.address)
	if err != nil {
		return nil, 0, contextError(ctx, err)
	}
	defer conn.Close()
	// Wake a blocked read when the step times out or the caller gives up.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	s := &udpSession{t: t, conn: conn, q: q, ids: map[uint16]bool{}}
	if err := s.send(ctx); err != nil {
		return nil, 0, err
	}
	return s.readReplies(ctx, now)
}

// udpSession is one query on one socket: the copies sent so far (each with its own
// id) and the resend schedule.
type udpSession struct {
	t          *udpTransport
	conn       net.Conn
	q          *dns.Msg
	ids        map[uint16]bool // ids of every copy sent
	sent       int
	nextResend time.Time // zero: no more resends
}

// send writes a copy of the query, with a fresh id after the first, and arms the
// read deadline for the next resend.
func (s *udpSession) send(ctx context.Context) error {
	if s.sent > 0 {
		s.q.Id = freshID(s.ids)
	}
	packed, err := s.q.Pack()
	if err != nil {
		return fmt.Errorf("dns: pack query: %w", err)
	}
	if _, err := s.conn.Write(packed); err != nil {
		return contextError(ctx, err)
	}
	s.ids[s.q.Id] = true
	s.sent++
	// The last copy waits for the step's end (the context's wake-up), not for
	// the previous copy's resend deadline, which has passed.
	s.nextResend = time.Time{}
	_ = s.conn.SetReadDeadline(time.Time{})
	if s.t.retransmit > 0 && s.sent <= s.t.maxRetransmits {
		s.nextResend = time.Now().Add(s.t.retransmit)
		_ = s.conn.SetReadDeadline(s.nextResend)
	}
	if ctx.Err() != nil { // the wake-up may have fired before the deadline above
		_ = s.conn.SetReadDeadline(time.Unix(1, 0))
	}
	return nil
}

// freshID returns a random id none of the earlier copies used.
func freshID(used map[uint16]bool) uint16 {
	for {
		if id := dns.Id(); !used[id] {
			return id
		}
	}
}

// resendDue reports whether a read error is the resend deadline passing (not the
// step ending: the step's wake-up cancels ctx first) with no valid reply yet. The
// clock is not compared with nextResend: a poller may wake a hair early.
func (s *udpSession) resendDue(ctx context.Context, err error, replies int) bool {
	var ne net.Error
	return replies == 0 && ctx.Err() == nil && !s.nextResend.IsZero() &&
		errors.As(err, &ne) && ne.Timeout()
}

// readReplies reads datagrams until the window after the first valid reply closes,
// the step ends, or the cap is reached, resending the query while no valid reply
// has come. Unusable datagrams (malformed, wrong id or question) are counted and
// skipped: one of them must not end the wait for the real reply.
func (s *udpSession) readReplies(ctx context.Context, now func() time.Time) ([]timedReply, int, error) {
	qname, qtype := s.q.Question[0].Name, s.q.Question[0].Qtype
	buf := make([]byte, maxUDPReplySize)
	var replies []timedReply
	ignored := 0
	for range s.t.maxReplies {
		n, err := s.conn.Read(buf)
		for err != nil && s.resendDue(ctx, err, len(replies)) {
			if err := s.send(ctx); err != nil {
				return nil, ignored, err
			}
			n, err = s.conn.Read(buf)
		}
		if err != nil {
			if len(replies) > 0 {
				return replies, ignored, nil // the window closed, or the step ended in it
			}
			return nil, ignored, contextError(ctx, err)
		}
		raw := append([]byte(nil), buf[:n]...)
		reply, msg, err := decodeDNSReply(raw, qname, qtype)
		if err != nil || !s.ids[msg.Id] {
			ignored++
			continue
		}
		replies = append(replies, timedReply{raw: raw, at: now(), reply: reply, id: msg.Id})
		if len(replies) == 1 {
			tellFirstReply(ctx, reply) // the answer is fixed: a caller may go on (dns_early.go)
			if s.t.window <= 0 || ctx.Err() != nil {
				return replies, ignored, nil
			}
			_ = s.conn.SetReadDeadline(time.Now().Add(s.t.window))
			if ctx.Err() != nil { // the wake-up may have fired just before the line above
				return replies, ignored, nil
			}
		}
	}
	if len(replies) > 0 {
		return replies, ignored, nil
	}
	return nil, ignored, fmt.Errorf("%w: %d unusable replies", ErrDNSServerMisbehaving, ignored)
}
