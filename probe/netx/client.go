package netx

import (
	"context"
	"crypto/x509"
	"net"
	"time"

	"github.com/quic-go/quic-go"
)

// Client is the measured network: every primitive (DialTCP, HandshakeTLS,
// HandshakeQUIC, Lookup, Fetch) is a method on it, and shares where to resolve,
// which roots to trust, which ClientHello to send, how long to wait, and the two
// seams every byte goes through: Dial for streams, DialPacket for datagrams. The
// zero value is usable.
type Client struct {
	// Resolver is "system" or a URL (udp://, tcp://, tls://, https://), as in the
	// configuration file.
	Resolver string
	// Roots replaces the system roots when not nil ([tls] roots).
	Roots *x509.CertPool
	// ClientHello is "chrome" (utls, the default) or "go" (crypto/tls).
	ClientHello string
	// Timeout bounds each network step (connect, handshake, one DNS exchange); zero
	// means DefaultStepTimeout.
	Timeout time.Duration

	// Dial opens every stream: TCP connects, DNS over TCP, DoT and DoH; nil means
	// a net.Dialer. Tests and the lab inject a func to fault or count them.
	Dial DialFunc
	// DialPacket opens every UDP socket: DNS over UDP and QUIC; nil means an
	// ephemeral socket. It is the packet twin of Dial.
	DialPacket PacketDialFunc
	// MaxIOEvents caps the read/write network_events recorded per TCP connection;
	// zero records none (see DefaultMaxIOEvents).
	MaxIOEvents int
	// Tags are copied into every event's tags.
	Tags []string
}

// The primitives' shapes, for consumers that hold them as funcs (a nettest's
// primitives, a test's fakes): one set, so that no consumer invents its own.
type (
	// ConnectFunc is the shape of Client.DialTCP.
	ConnectFunc func(ctx context.Context, trace *Trace, address string) (net.Conn, error)
	// TLSHandshakeFunc is the shape of Client.HandshakeTLS.
	TLSHandshakeFunc func(ctx context.Context, trace *Trace, conn net.Conn, sni string, alpn []string) (net.Conn, *TLSHandshakeEvent, error)
	// QUICHandshakeFunc is the shape of Client.HandshakeQUIC.
	QUICHandshakeFunc func(ctx context.Context, trace *Trace, address, sni string, alpn []string) (*quic.Conn, *TLSHandshakeEvent, error)
	// LookupFunc is the shape of Client.Lookup.
	LookupFunc func(ctx context.Context, trace *Trace, resolverURL, host string) (*DNSResult, error)
)

// DefaultStepTimeout bounds one network step when nothing better is known. Ten
// seconds is OONI's figure; nettests derive shorter budgets from round-trip times
// already seen (docs/methodology.md).
const DefaultStepTimeout = 10 * time.Second

var (
	_ ConnectFunc       = (*Client)(nil).DialTCP
	_ TLSHandshakeFunc  = (*Client)(nil).HandshakeTLS
	_ QUICHandshakeFunc = (*Client)(nil).HandshakeQUIC
	_ LookupFunc        = (*Client)(nil).Lookup
)

// Dialer returns the stream seam: Dial, or a plain net.Dialer.
func (c *Client) Dialer() DialFunc { return c.dialer() }

// StepTimeout returns the configured step timeout or the default.
func (c *Client) StepTimeout() time.Duration {
	if c == nil || c.Timeout <= 0 {
		return DefaultStepTimeout
	}
	return c.Timeout
}
