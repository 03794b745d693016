//go:build linux

package lab

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// dnsInjector is the on-path DNS injector on the router: every UDP query to port
// 53 that crosses the router is queued to it (iptables -j NFQUEUE); for a censored
// name it sends a forged answer, spoofed from the queried server, before it lets
// the query go on. The probe thus gets the forged answer first and the real one
// after it, the signature of on-path injection (Duan, Weaver et al., "Hold-On").
type dnsInjector struct {
	answers map[string]netip.Addr // censored name → forged address
	raw     int                   // raw IPv4 socket in the router namespace
	queue   *nfqueue
	mu      sync.Mutex // serialises raw sends
}

// startDNSInjector binds queue num in the router namespace.
func startDNSInjector(router *Namespace, num uint16, answers map[string]netip.Addr) (*dnsInjector, error) {
	inj := &dnsInjector{answers: map[string]netip.Addr{}}
	for name, a := range answers {
		inj.answers[canonicalName(name)] = a
	}
	err := router.Do(func() (err error) {
		inj.raw, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lab: injector raw socket: %w", err)
	}
	inj.queue, err = openNFQueue(router, num, inj.handle)
	if err != nil {
		unix.Close(inj.raw)
		return nil, err
	}
	return inj, nil
}

// handle forges an answer when the packet is a query for a censored name.
func (inj *dnsInjector) handle(packet []byte) {
	src, dst, sport, dport, payload, ok := parseUDP4(packet)
	if !ok || dport != 53 {
		return
	}
	var q dns.Msg
	if q.Unpack(payload) != nil || q.Response || len(q.Question) != 1 {
		return
	}
	forged, censored := inj.answers[canonicalName(q.Question[0].Name)]
	if !censored {
		return
	}
	reply := new(dns.Msg)
	reply.SetReply(&q)
	reply.RecursionAvailable = true
	if q.Question[0].Qtype == dns.TypeA {
		reply.Answer = append(reply.Answer, aRecord(q.Question[0].Name, forged))
	}
	body, err := reply.Pack()
	if err != nil {
		return
	}
	inj.send(buildUDP4(dst, src, dport, sport, body), src)
}

func (inj *dnsInjector) send(packet []byte, to netip.Addr) {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	_ = unix.Sendto(inj.raw, packet, 0, &unix.SockaddrInet4{Addr: to.As4()}) // best effort, like a real injector
}

// Close stops the queue and closes the raw socket.
func (inj *dnsInjector) Close() error {
	err := inj.queue.Close()
	unix.Close(inj.raw)
	return err
}

// parseUDP4 reads an IPv4/UDP packet; ok is false for anything else.
func parseUDP4(p []byte) (src, dst netip.Addr, sport, dport uint16, payload []byte, ok bool) {
	if len(p) < 20 || p[0]>>4 != 4 || p[9] != unix.IPPROTO_UDP {
		return
	}
	ihl := int(p[0]&0x0f) * 4
	if ihl < 20 || len(p) < ihl+8 {
		return
	}
	src = netip.AddrFrom4([4]byte(p[12:16]))
	dst = netip.AddrFrom4([4]byte(p[16:20]))
	u := p[ihl:]
	sport, dport = binary.BigEndian.Uint16(u), binary.BigEndian.Uint16(u[2:])
	ulen := int(binary.BigEndian.Uint16(u[4:]))
	if ulen < 8 || ulen > len(u) {
		return
	}
	return src, dst, sport, dport, u[8:ulen], true
}

// buildUDP4 makes an IPv4/UDP packet. The kernel fills the IP checksum and total
// length for IPPROTO_RAW sockets; a zero UDP checksum means "none" in IPv4.
func buildUDP4(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	p := make([]byte, 28+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[8] = 64 // TTL
	p[9] = unix.IPPROTO_UDP
	s, d := src.As4(), dst.As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[20:], sport)
	binary.BigEndian.PutUint16(p[22:], dport)
	binary.BigEndian.PutUint16(p[24:], uint16(8+len(payload)))
	copy(p[28:], payload)
	return p
}
