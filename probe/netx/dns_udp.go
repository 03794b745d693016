package netx

import (
	"context"
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
	address    string
	window     time.Duration // <= 0: return after the first valid reply
	maxReplies int
}

var _ dnsTransport = (*udpTransport)(nil)

func newUDPTransport(address string, opts DNSOptions) *udpTransport {
	t := &udpTransport{address: address, window: opts.DuplicateWindow, maxReplies: opts.MaxUDPReplies}
	if t.window == 0 {
		t.window = DefaultDuplicateWindow
	}
	if t.maxReplies <= 0 {
		t.maxReplies = DefaultMaxUDPReplies
	}
	return t
}

func (t *udpTransport) exchange(ctx context.Context, q *dns.Msg, now func() time.Time) ([]timedReply, int, error) {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "udp", t.address)
	if err != nil {
		return nil, 0, contextError(ctx, err)
	}
	defer conn.Close()
	// Wake a blocked read when the step times out or the caller gives up.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	packed, err := q.Pack()
	if err != nil {
		return nil, 0, fmt.Errorf("dns: pack query: %w", err)
	}
	if _, err := conn.Write(packed); err != nil {
		return nil, 0, contextError(ctx, err)
	}
	return t.readReplies(ctx, conn, q, now)
}

// readReplies reads datagrams until the window after the first valid reply closes,
// the step ends, or the cap is reached. Unusable datagrams (malformed, wrong id or
// question) are counted and skipped: one of them must not end the wait for the
// real reply.
func (t *udpTransport) readReplies(ctx context.Context, conn net.Conn, q *dns.Msg, now func() time.Time) ([]timedReply, int, error) {
	qname, qtype := q.Question[0].Name, q.Question[0].Qtype
	buf := make([]byte, maxUDPReplySize)
	var replies []timedReply
	ignored := 0
	for range t.maxReplies {
		n, err := conn.Read(buf)
		if err != nil {
			if len(replies) > 0 {
				return replies, ignored, nil // the window closed, or the step ended in it
			}
			return nil, ignored, contextError(ctx, err)
		}
		raw := append([]byte(nil), buf[:n]...)
		reply, msg, err := decodeDNSReply(raw, qname, qtype)
		if err != nil || msg.Id != q.Id {
			ignored++
			continue
		}
		replies = append(replies, timedReply{raw: raw, at: now(), reply: reply})
		if len(replies) == 1 {
			if t.window <= 0 || ctx.Err() != nil {
				return replies, ignored, nil
			}
			_ = conn.SetReadDeadline(time.Now().Add(t.window))
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
