package netx

import (
	"context"
	"net"
	"sync"
)

// DialFunc is the shape of net.Dialer.DialContext: the one way netx opens a stream
// to the network (TCP connects, DNS over TCP and TLS, DNS over HTTPS). Tests and
// the lab inject one to return exact errors.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// PacketDialFunc opens the UDP socket netx uses to talk to address (IP:port): the
// one way netx sends datagrams (DNS over UDP, QUIC). It is the packet twin of
// DialFunc: a test faults UDP here exactly as it faults TCP there. The socket is
// not connected: the caller writes to address with WriteTo.
type PacketDialFunc func(ctx context.Context, network, address string) (net.PacketConn, error)

// listenPacket is the default PacketDialFunc: an unconnected socket on an
// ephemeral port of every local address, as quic-go's DialAddr opens.
func listenPacket(ctx context.Context, network, _ string) (net.PacketConn, error) {
	var lc net.ListenConfig
	return lc.ListenPacket(ctx, network, ":0")
}

// DefaultMaxIOEvents is a suggested cap for Client.MaxIOEvents: enough read events
// to see the shape of a throttled transfer (bytes per read over time) without letting
// one large download grow the measurement without bound.
const DefaultMaxIOEvents = 64

// measuredConn is a net.Conn decorator with one job: remember the transaction id of
// the connect that made it and, when asked, record read and write events (bytes and
// times) up to a cap.
type measuredConn struct {
	net.Conn
	trace *Trace
	txID  int64
	tags  []string

	mu        sync.Mutex
	remaining int // network events still allowed
}

var _ net.Conn = (*measuredConn)(nil)

func newMeasuredConn(conn net.Conn, trace *Trace, txID int64, maxEvents int, tags []string) *measuredConn {
	return &measuredConn{Conn: conn, trace: trace, txID: txID, remaining: maxEvents, tags: tags}
}

// Read implements net.Conn.
func (c *measuredConn) Read(b []byte) (int, error) {
	if !c.recording() {
		return c.Conn.Read(b)
	}
	t0 := c.trace.Elapsed()
	n, err := c.Conn.Read(b)
	c.record("read", t0, n, err)
	return n, err
}

// Write implements net.Conn.
func (c *measuredConn) Write(b []byte) (int, error) {
	if !c.recording() {
		return c.Conn.Write(b)
	}
	t0 := c.trace.Elapsed()
	n, err := c.Conn.Write(b)
	c.record("write", t0, n, err)
	return n, err
}

// TransactionID returns the id of the connect that opened this conn.
func (c *measuredConn) TransactionID() int64 { return c.txID }

func (c *measuredConn) recording() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remaining > 0
}

func (c *measuredConn) record(op string, t0 float64, n int, err error) {
	c.mu.Lock()
	if c.remaining <= 0 {
		c.mu.Unlock()
		return
	}
	c.remaining--
	c.mu.Unlock()
	c.trace.AddNetworkEvent(NetworkEvent{
		Address:       addrString(c.Conn.RemoteAddr()),
		Failure:       FailureOf(Wrap(op, err)),
		NumBytes:      int64(n),
		Operation:     op,
		Proto:         "tcp",
		T0:            t0,
		T:             c.trace.Elapsed(),
		Tags:          c.tags,
		TransactionID: c.txID,
	})
}

// TransactionIDOf returns the transaction id of a conn opened by DialTCP, or 0 for
// any other conn.
func TransactionIDOf(conn net.Conn) int64 {
	if tc, ok := conn.(interface{ TransactionID() int64 }); ok {
		return tc.TransactionID()
	}
	return 0
}
