package netx

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/miekg/dns"
)

// streamTransport sends one query over its own TCP connection (RFC 7766), wrapped
// in TLS for DNS over TLS (RFC 7858) when tls is set. Messages carry a two-byte
// length prefix, which also caps a reply at 65535 bytes.
type streamTransport struct {
	address string
	tls     *tls.Config
	dial    DialFunc // Client.Dial: the one stream seam
}

var _ dnsTransport = (*streamTransport)(nil)

// dotConfig is the TLS configuration of a DoT resolver at address: the name to
// verify is the host part (an IP literal is checked against IP SANs), the roots
// those of the Client (nil means the system's).
func (c *Client) dotConfig(address string) *tls.Config {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	return &tls.Config{ServerName: host, RootCAs: c.Roots, MinVersion: tls.VersionTLS12}
}

func (t *streamTransport) exchange(ctx context.Context, q *dns.Msg, now func() time.Time) ([]timedReply, int, error) {
	tcpConn, err := t.dial(ctx, "tcp", t.address)
	if err != nil {
		return nil, 0, contextError(ctx, err)
	}
	defer tcpConn.Close()
	// Wake blocked I/O (TLS included: it reads through tcpConn) when the step ends.
	stop := context.AfterFunc(ctx, func() { _ = tcpConn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	conn := tcpConn
	if t.tls != nil {
		tconn := tls.Client(tcpConn, t.tls)
		if err := tconn.HandshakeContext(ctx); err != nil {
			return nil, 0, contextError(ctx, fmt.Errorf("dns: tls handshake: %w", err))
		}
		conn = tconn
	}
	raw, err := roundTripStream(conn, q)
	if err != nil {
		return nil, 0, contextError(ctx, err)
	}
	reply, err := checkStreamReply(raw, q)
	if err != nil {
		return nil, 0, err
	}
	return []timedReply{{raw: raw, at: now(), reply: reply}}, 0, nil
}

// roundTripStream writes q with its length prefix and reads one framed reply.
func roundTripStream(conn net.Conn, q *dns.Msg) ([]byte, error) {
	packed, err := q.Pack()
	if err != nil {
		return nil, fmt.Errorf("dns: pack query: %w", err)
	}
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(packed)))
	if _, err := conn.Write(append(frame, packed...)); err != nil {
		return nil, err
	}
	var size [2]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return nil, err
	}
	raw := make([]byte, binary.BigEndian.Uint16(size[:]))
	if _, err := io.ReadFull(conn, raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// checkStreamReply decodes the one reply of a stream exchange. Unlike UDP, nothing
// else can arrive on the connection, so an unusable reply is the failure.
func checkStreamReply(raw []byte, q *dns.Msg) (*dnsReply, error) {
	reply, msg, err := decodeDNSReply(raw, q.Question[0].Name, q.Question[0].Qtype)
	switch {
	case errors.Is(err, errDNSMismatch), err == nil && msg.Id != q.Id:
		return nil, ErrDNSWrongQueryID
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrDNSServerMisbehaving, err)
	}
	return reply, nil
}
