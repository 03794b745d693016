//go:build linux

package lab

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// sniProxyPort receives every TLS connection of the LAN when "tls.mitm.sni" is on.
const sniProxyPort = 8445

// Timeouts of the SNI-triggered interceptor.
const (
	// helloReadTimeout bounds the wait for a ClientHello.
	helloReadTimeout = 5 * time.Second
	// upstreamDialTimeout bounds the connection to the real server.
	upstreamDialTimeout = 5 * time.Second
	// maxHelloBytes bounds what is buffered while looking for the server name.
	maxHelloBytes = 64 << 10
	// soOriginalDst is SO_ORIGINAL_DST from linux/netfilter_ipv4.h.
	soOriginalDst = 80
)

var errStopAfterHello = errors.New("lab: ClientHello read")

// sniInterceptor is the Kazakh 2019 middlebox: it receives every TLS connection
// (DNAT), reads the server name and intercepts only the names on its list with
// the national CA; every other connection is spliced to its real destination,
// so the same address with another SNI shows the genuine certificate (Censored
// Planet, "Trigger = SNI", https://censoredplanet.org/kazakhstan).
type sniInterceptor struct {
	router   *Namespace
	names    map[string]bool
	tlsConf  *tls.Config
	ln       net.Listener
	mitm     *http.Server
	mitmConn *connListener
	wg       sync.WaitGroup

	mu    sync.Mutex
	open  map[net.Conn]struct{} // spliced connections, closed by Close
	close bool
}

// track registers a spliced connection; false once Close has run.
func (s *sniInterceptor) track(cs ...net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.close {
		return false
	}
	for _, c := range cs {
		s.open[c] = struct{}{}
	}
	return true
}

func (s *sniInterceptor) untrack(cs ...net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		delete(s.open, c)
	}
}

func startSNIInterceptor(router *Namespace, names []string, ca *Authority, w *World) (*sniInterceptor, error) {
	ln, err := router.Listen("tcp4", net.JoinHostPort(RouterAddr.String(), fmt.Sprint(sniProxyPort)))
	if err != nil {
		return nil, err
	}
	s := &sniInterceptor{router: router, names: map[string]bool{}, tlsConf: withHTTP2(ca.TLSConfig(nil)), ln: ln,
		mitmConn: newConnListener(ln.Addr()), open: map[net.Conn]struct{}{}}
	for _, n := range names {
		s.names[canonicalName(n)] = true
	}
	s.mitm = &http.Server{Handler: &siteHandler{world: w}, ReadHeaderTimeout: serverReadTimeout, ErrorLog: discardLog}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		_ = s.mitm.Serve(tls.NewListener(s.mitmConn, s.tlsConf))
	}()
	go func() {
		defer s.wg.Done()
		s.accept()
	}()
	return s, nil
}

func (s *sniInterceptor) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		if !s.track(c) {
			c.Close()
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			s.handle(c)
		}()
	}
}

// handle reads the ClientHello, then intercepts or splices.
func (s *sniInterceptor) handle(c net.Conn) {
	dst, err := originalDst(c)
	if err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Now().Add(helloReadTimeout))
	sni, hello, err := peekServerName(c)
	c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return
	}
	replay := &prefixConn{Conn: c, prefix: bytes.NewReader(hello)}
	if s.names[canonicalName(sni)] {
		if !s.mitmConn.push(replay) {
			c.Close()
		}
		return
	}
	defer c.Close()
	up, err := s.dialUpstream(dst)
	if err != nil {
		return
	}
	defer up.Close()
	if !s.track(up) {
		return
	}
	defer s.untrack(up)
	splice(replay, up)
}

func (s *sniInterceptor) dialUpstream(dst netip.AddrPort) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), upstreamDialTimeout)
	defer cancel()
	return s.router.Dial(ctx, "tcp4", dst.String())
}

// Close stops accepting, closes the interception server and every spliced
// connection, and waits.
func (s *sniInterceptor) Close() error {
	err := s.ln.Close()
	s.mitmConn.Close()
	s.mitm.Close()
	s.mu.Lock()
	s.close = true
	for c := range s.open {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// splice copies both ways until either side is done.
func splice(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	a.Close()
	b.Close()
	<-done
}

// originalDst is where the client meant to connect before the DNAT.
func originalDst(c net.Conn) (netip.AddrPort, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return netip.AddrPort{}, errors.New("lab: not a TCP connection")
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	var sa *unix.IPv6Mreq // 16 bytes: exactly a sockaddr_in
	var serr error
	err = raw.Control(func(fd uintptr) {
		sa, serr = unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, soOriginalDst)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("lab: SO_ORIGINAL_DST: %w", err)
	}
	b := sa.Multiaddr
	port := binary.BigEndian.Uint16(b[2:4])
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port), nil
}

// peekServerName reads a whole ClientHello and returns its server name and the
// bytes read, which the caller replays. crypto/tls parses the hello; the peek
// connection discards whatever the aborted handshake tries to send.
func peekServerName(c net.Conn) (string, []byte, error) {
	rec := &recordingConn{Conn: c}
	var sni string
	conf := &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sni = h.ServerName
		return nil, errStopAfterHello
	}}
	err := tls.Server(rec, conf).Handshake()
	if !errors.Is(err, errStopAfterHello) {
		return "", nil, fmt.Errorf("lab: no ClientHello: %w", err)
	}
	return sni, rec.buf.Bytes(), nil
}

// recordingConn keeps what it reads and swallows writes.
type recordingConn struct {
	net.Conn
	buf bytes.Buffer
}

func (r *recordingConn) Read(p []byte) (int, error) {
	if r.buf.Len() >= maxHelloBytes {
		return 0, errors.New("lab: ClientHello too large")
	}
	n, err := r.Conn.Read(p)
	r.buf.Write(p[:n])
	return n, err
}

func (r *recordingConn) Write(p []byte) (int, error) { return len(p), nil }

// prefixConn replays prefix before reading from the connection.
type prefixConn struct {
	net.Conn
	prefix *bytes.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if p.prefix.Len() > 0 {
		return p.prefix.Read(b)
	}
	return p.Conn.Read(b)
}

// connListener is a net.Listener fed by push.
type connListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newConnListener(addr net.Addr) *connListener {
	return &connListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

// push hands c to Accept; false once the listener is closed.
func (l *connListener) push(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }
