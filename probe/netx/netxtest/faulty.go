package netxtest

import (
	"bufio"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"testing"
)

// quietLogger drops the servers' own error logs: tests provoke those errors on
// purpose (handshakes with untrusted clients, reset connections).
func quietLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// Serve runs serve on every connection ln accepts until ln is closed. done is
// closed at cleanup so that a server waiting between writes gives up; cleanup then
// closes ln and every open connection and waits for every goroutine it started. A
// connection stays open after serve returns (a black hole returns at once) until
// the test ends. Other test-server packages (netx/hostile) build on it.
func Serve(t testing.TB, ln net.Listener, serve func(c net.Conn, done <-chan struct{})) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				serve(c, done)
			}()
		}
	}()
	t.Cleanup(func() {
		close(done)
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// acceptLoop is Serve for servers that need no done channel.
func acceptLoop(t testing.TB, ln net.Listener, serve func(net.Conn)) {
	Serve(t, ln, func(c net.Conn, _ <-chan struct{}) { serve(c) })
}

// ListenTCP listens on a free loopback port, failing the test when it cannot.
func ListenTCP(t testing.TB) net.Listener { return listenTCP(t) }

func listenTCP(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("netxtest: listen: %v", err)
	}
	return ln
}

// NewBlackHole returns the address of a TCP listener that accepts connections and
// never sends a byte: a TLS handshake or an HTTP request to it ends only by the
// client's timeout. (A connect to it succeeds: for a connect timeout, the lab's
// packet filters are the tool.)
func NewBlackHole(t testing.TB) string {
	t.Helper()
	ln := listenTCP(t)
	acceptLoop(t, ln, func(c net.Conn) {
		_, _ = io.Copy(io.Discard, c) // read and ignore until the client or cleanup closes
	})
	return ln.Addr().String()
}

// NewResetter returns the address of a TCP listener that reads the first bytes the
// client sends (the TLS ClientHello) and then aborts the connection with a RST
// (SO_LINGER 0), as a censor that resets on SNI does.
func NewResetter(t testing.TB) string {
	t.Helper()
	ln := listenTCP(t)
	acceptLoop(t, ln, func(c net.Conn) {
		readClientHello(c)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
	})
	return ln.Addr().String()
}

// readClientHello reads one whole TLS record (the ClientHello) so that closing the
// connection afterwards leaves no unread data: the kernel answers a close with
// unread data by a RST, which would turn a clean close into a reset.
func readClientHello(c net.Conn) {
	var header [5]byte // type, version, length (RFC 8446, section 5.1)
	if _, err := io.ReadFull(c, header[:]); err != nil {
		return
	}
	n := int(header[3])<<8 | int(header[4])
	_, _ = io.CopyN(io.Discard, c, int64(n))
}

// NewCloser returns the address of a TCP listener that reads the first bytes the
// client sends and then closes the connection cleanly (FIN): a handshake to it ends
// in eof_error, as with a middlebox that drops the connection after the ClientHello.
func NewCloser(t testing.TB) string {
	t.Helper()
	ln := listenTCP(t)
	acceptLoop(t, ln, func(c net.Conn) {
		readClientHello(c)
		c.Close()
	})
	return ln.Addr().String()
}

// NewTruncatedServer returns a plain HTTP/1.1 server whose every response announces
// a Content-Length of 1000 bytes, sends 10 and closes the connection.
func NewTruncatedServer(t testing.TB) *Server {
	t.Helper()
	ln := listenTCP(t)
	acceptLoop(t, ln, func(c net.Conn) {
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n<html><ti")
	})
	addr := ln.Addr().String()
	return &Server{Addr: addr, URL: "http://" + addr + "/"}
}

// NewRawServer returns the address of a TCP server that reads one HTTP request and
// answers with response, byte for byte, then closes: for malformed responses.
func NewRawServer(t testing.TB, response string) string {
	t.Helper()
	ln := listenTCP(t)
	acceptLoop(t, ln, func(c net.Conn) {
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		_, _ = io.WriteString(c, response)
	})
	return ln.Addr().String()
}

// TruncatedBodyPrefix is what NewTruncatedServer sends of its body.
const TruncatedBodyPrefix = "<html><ti"

// NewUDPBlackHole returns the address of a UDP socket that reads and drops every
// datagram: a QUIC handshake to it ends only by the client's timeout.
func NewUDPBlackHole(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("netxtest: udp listen: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		wg.Wait()
	})
	return pc.LocalAddr().String()
}
