package hostile

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/vantage-probe/vantage/probe/netx/dnstest"
)

// DNSResponder turns one query into the packets a hostile DNS server sends back, in
// order. Over UDP each is one datagram; over TCP each is one length-prefixed frame.
type DNSResponder func(q *dns.Msg) [][]byte

// DNSServer is a hostile DNS server on 127.0.0.1, over UDP and TCP.
type DNSServer struct {
	// UDPAddr and TCPAddr are "127.0.0.1:PORT".
	UDPAddr, TCPAddr string
}

// UDPURL is the resolver URL of the UDP server, for netx.Client.Lookup.
func (s *DNSServer) UDPURL() string { return "udp://" + s.UDPAddr }

// TCPURL is the resolver URL of the TCP server.
func (s *DNSServer) TCPURL() string { return "tcp://" + s.TCPAddr }

// NewDNSServer answers every query, over UDP and TCP, with what respond returns,
// through dnstest's serving loop (the one of every DNS test server): each packet is
// one datagram over UDP, one length-prefixed frame over TCP.
func NewDNSServer(t testing.TB, respond DNSResponder) *DNSServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("hostile: listen udp: %v", err)
	}
	ln := listenTCP(t)
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		if len(q.Question) != 1 {
			return
		}
		for _, p := range respond(q) {
			if _, err := w.Write(p); err != nil {
				return
			}
		}
	})
	srv, err := dnstest.Serve(h, pc, ln)
	if err != nil {
		t.Fatalf("hostile: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		srv.Stop(ctx)
	})
	return &DNSServer{UDPAddr: pc.LocalAddr().String(), TCPAddr: ln.Addr().String()}
}

// stopTimeout bounds how long cleanup waits for the DNS servers to stop.
const stopTimeout = 5 * time.Second

// ManyAnswers answers A queries with n A records (198.18.x.y, the benchmarking
// range, RFC 2544) and AAAA queries with an empty answer. The packet is not
// compressed-limited: with n in the thousands it exceeds any UDP buffer.
func ManyAnswers(n int) DNSResponder {
	return func(q *dns.Msg) [][]byte {
		return [][]byte{manyAnswers(q, n, 0)}
	}
}

func manyAnswers(q *dns.Msg, n, salt int) []byte {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Compress = true
	if q.Question[0].Qtype == dns.TypeA {
		for i := range n {
			j := i + salt
			addr := netip.AddrFrom4([4]byte{198, 18, byte(j >> 8), byte(j)})
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A:   addr.AsSlice(),
			})
		}
	}
	packed, err := m.Pack()
	if err != nil {
		return nil
	}
	return packed
}

// Oversized answers with one reply of about 48 KiB (3000 A records): larger than
// a UDP client's 4096-byte buffer, so the kernel cuts it.
func Oversized() DNSResponder { return ManyAnswers(3000) }

// Malformed answers with a packet that starts like a reply to the query (its id,
// the QR bit set, one question) and then holds garbage.
func Malformed() DNSResponder {
	return func(q *dns.Msg) [][]byte {
		p := make([]byte, 12, 300)
		binary.BigEndian.PutUint16(p[0:], q.Id)
		p[2] = 0x81                            // QR, RD
		p[3] = 0x80                            // RA
		binary.BigEndian.PutUint16(p[4:], 1)   // one question
		binary.BigEndian.PutUint16(p[6:], 900) // 900 answers announced, none present
		for i := range 280 {
			p = append(p, byte(0xc0|i)) // compression pointers pointing anywhere
		}
		return [][]byte{p}
	}
}

// Flood answers every query with n valid replies, each with a different address,
// as fast as the socket takes them: a resolver (or injector) that never stops.
func Flood(n int) DNSResponder {
	return func(q *dns.Msg) [][]byte {
		out := make([][]byte, 0, n)
		for i := range n {
			out = append(out, manyAnswers(q, 1, i))
		}
		return out
	}
}

// NewStallingDNS returns the address of a DNS-over-TCP server that reads the query,
// announces a 65535-byte reply, sends ten bytes of it and then nothing more: the
// client's read of the frame can only end by its own timeout.
func NewStallingDNS(t testing.TB) string {
	t.Helper()
	ln := listenTCP(t)
	acceptLoop(t, ln, func(c net.Conn, done <-chan struct{}) {
		var size [2]byte
		if _, err := io.ReadFull(c, size[:]); err != nil {
			return
		}
		if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint16(size[:]))); err != nil {
			return
		}
		if _, err := c.Write([]byte{0xff, 0xff, 0, 0, 0x81, 0x80, 0, 1, 0, 0, 0, 0}); err != nil {
			return
		}
		<-done
	})
	return ln.Addr().String()
}

// DoHHandler serves DNS over HTTPS (RFC 8484) with a hostile body: when endless, a
// body of application/dns-message that never ends; otherwise the packets respond
// returns, concatenated, as one body.
func DoHHandler(respond DNSResponder, endless bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/dns-message")
		if endless {
			for r.Context().Err() == nil {
				if _, err := w.Write(fillChunk); err != nil {
					return
				}
			}
			return
		}
		raw, err := io.ReadAll(io.LimitReader(r.Body, 65535))
		q := new(dns.Msg)
		if err != nil || q.Unpack(raw) != nil || len(q.Question) != 1 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for _, p := range respond(q) {
			w.Write(p)
		}
	})
}
