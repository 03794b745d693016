package netx

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// dialPacketTo opens a UDP socket through dial and returns it as a conn to address
// alone, the way DNS over UDP reads and writes: writes go to address, and
// datagrams from anywhere else are dropped, as a connected socket's kernel would.
func dialPacketTo(ctx context.Context, dial PacketDialFunc, address string) (net.Conn, error) {
	peer, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, fmt.Errorf("netx: udp address %q: %w", address, err)
	}
	pc, err := dial(ctx, "udp", address)
	if err != nil {
		return nil, err
	}
	return &packetConnTo{PacketConn: pc, peer: peer, addr: net.UDPAddrFromAddrPort(peer)}, nil
}

// packetConnTo is a net.PacketConn seen as a net.Conn to one peer.
type packetConnTo struct {
	net.PacketConn
	peer netip.AddrPort
	addr *net.UDPAddr
}

var _ net.Conn = (*packetConnTo)(nil)

// Read returns the next datagram from the peer, skipping any other sender's.
func (c *packetConnTo) Read(b []byte) (int, error) {
	for {
		n, from, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, err
		}
		if fromPeer(from, c.peer) {
			return n, nil
		}
	}
}

// Write sends b to the peer.
func (c *packetConnTo) Write(b []byte) (int, error) { return c.PacketConn.WriteTo(b, c.addr) }

// RemoteAddr is the peer.
func (c *packetConnTo) RemoteAddr() net.Addr { return c.addr }

func fromPeer(from net.Addr, peer netip.AddrPort) bool {
	u, ok := from.(*net.UDPAddr)
	if !ok {
		return from != nil && from.String() == peer.String()
	}
	ap := u.AddrPort()
	return ap.Addr().Unmap() == peer.Addr().Unmap() && ap.Port() == peer.Port()
}
