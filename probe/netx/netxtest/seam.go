package netxtest

import (
	"context"
	"net"
	"sync"
	"syscall"
)

// Fault is what a Seam does to the flows it faults.
type Fault int

// Faults a Seam can inject, the same for streams and datagrams.
const (
	// Pass lets the flow through.
	Pass Fault = iota
	// Unreachable refuses to open the flow with ENETUNREACH, as a host with no
	// route does: netx classifies it network_unreachable.
	Unreachable
	// Drop loses everything, as a black hole does: a stream never connects (its
	// SYN is lost), a datagram socket opens and its datagrams vanish; either way
	// the exchange ends at the caller's timeout.
	Drop
)

// Seam is a pair of netx seams (Client.Dial and Client.DialPacket) that apply one
// fault to every stream or datagram flow, and count the flows each opened. It lets
// a test fault TCP, DNS (UDP, TCP, DoT, DoH) and QUIC the same way, in one place.
type Seam struct {
	mu      sync.Mutex
	fault   Fault
	streams []string // addresses Dial was asked for
	packets []string // addresses DialPacket was asked for
}

// Set changes the fault applied from now on.
func (s *Seam) Set(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// Streams and Packets return the addresses of the flows opened so far.
func (s *Seam) Streams() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{}, s.streams...)
}

// Packets: see Streams.
func (s *Seam) Packets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{}, s.packets...)
}

func (s *Seam) note(list *[]string, address string) Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	*list = append(*list, address)
	return s.fault
}

// Dial is a netx.DialFunc.
func (s *Seam) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	switch s.note(&s.streams, address) {
	case Unreachable:
		return nil, unreachable("dial", network, address)
	case Drop:
		<-ctx.Done() // the SYN is lost: the connect waits for the caller's deadline
		return nil, &net.OpError{Op: "dial", Net: network, Addr: stringAddr(address), Err: ctx.Err()}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// DialPacket is a netx.PacketDialFunc.
func (s *Seam) DialPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	fault := s.note(&s.packets, address)
	if fault == Unreachable {
		return nil, unreachable("dial", network, address)
	}
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, network, ":0")
	if err != nil || fault != Drop {
		return pc, err
	}
	return &droppingPacketConn{PacketConn: pc}, nil
}

func unreachable(op, network, address string) error {
	return &net.OpError{Op: op, Net: network, Addr: stringAddr(address), Err: syscall.ENETUNREACH}
}

type stringAddr string

func (a stringAddr) Network() string { return "ip" }
func (a stringAddr) String() string  { return string(a) }

// droppingPacketConn loses every datagram it is asked to send; reads wait for
// replies that cannot come, until their deadline.
type droppingPacketConn struct{ net.PacketConn }

func (c *droppingPacketConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }
