package netx

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
)

// DialTCP connects to address (IP:port; no name resolution happens here) and records
// one tcp_connect event. The error, if any, is classified (connection_refused,
// connection_reset, generic_timeout_error, host_unreachable, network_unreachable, ...).
// The connect is bounded by the configured step timeout. The returned conn carries
// the event's transaction id (see TransactionIDOf), which HandshakeTLS reuses, and,
// when Client.MaxIOEvents is positive, records read and write network events.
func (c *Client) DialTCP(ctx context.Context, trace *Trace, address string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("netx: dial tcp: %w", err)
	}
	port, _ := strconv.Atoi(portText)
	trace = orDiscard(trace)
	ctx, cancel := context.WithTimeout(ctx, c.StepTimeout())
	defer cancel()

	txID := trace.NewTransactionID()
	t0 := trace.Elapsed()
	conn, err := c.dialer()(ctx, "tcp", address)
	err = Wrap("connect", err)
	trace.AddTCPConnect(TCPConnectEvent{
		IP:            host,
		Port:          port,
		Status:        TCPStatus{Failure: FailureOf(err), Success: err == nil},
		T0:            t0,
		T:             trace.Elapsed(),
		Tags:          c.tags(),
		TransactionID: txID,
	})
	if err != nil {
		return nil, err
	}
	return newMeasuredConn(conn, trace, txID, c.MaxIOEvents, c.tags()), nil
}

// orDiscard returns trace, or a throwaway trace when the caller passed nil: the
// primitives then still work, their events simply go nowhere.
func orDiscard(trace *Trace) *Trace {
	if trace == nil {
		return NewTrace(time.Now(), nil)
	}
	return trace
}

// addrString is addr.String(), "" for a conn that has no address.
func addrString(addr net.Addr) string {
	if addr == nil {
		return ""
	}
	return addr.String()
}

// dialer returns the configured stream dialer or a plain net.Dialer.
func (c *Client) dialer() DialFunc {
	if c != nil && c.Dial != nil {
		return c.Dial
	}
	var d net.Dialer
	return d.DialContext
}

// packetDialer returns the configured packet dialer or an ephemeral UDP socket.
func (c *Client) packetDialer() PacketDialFunc {
	if c != nil && c.DialPacket != nil {
		return c.DialPacket
	}
	return listenPacket
}

// tags returns the configured event tags, never nil, so that they encode as [].
func (c *Client) tags() []string {
	if len(c.Tags) == 0 {
		return []string{}
	}
	return append([]string{}, c.Tags...)
}
