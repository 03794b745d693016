package netxtest

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/quic-go/quic-go/http3"
)

// MustCA is NewCA for tests: it fails t on error.
func MustCA(t testing.TB, name string) *CA {
	t.Helper()
	ca, err := NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// MustIssue is CA.Issue for tests: it fails t on error.
func MustIssue(t testing.TB, ca *CA, names ...string) tls.Certificate {
	t.Helper()
	cert, err := ca.Issue(names...)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// Server is a running loopback server.
type Server struct {
	// Addr is the IP:port it listens on (UDP for HTTP/3).
	Addr string
	// URL is scheme://Addr/.
	URL string
}

// URLFor returns the server's URL with host in place of the IP, for a fetch that
// sends host as Host and SNI while pinned to Addr (FetchOptions.Address).
func (s *Server) URLFor(host string) string {
	u, _ := url.Parse(s.URL)
	_, port, _ := net.SplitHostPort(s.Addr)
	u.Host = net.JoinHostPort(host, port)
	return u.String()
}

// Port returns the server's port as text.
func (s *Server) Port() string {
	_, port, _ := net.SplitHostPort(s.Addr)
	return port
}

// NewHTTPSServer serves handler over TLS with cert, offering HTTP/2 and HTTP/1.1 by
// ALPN, on 127.0.0.1.
func NewHTTPSServer(t testing.TB, cert tls.Certificate, handler http.Handler) *Server {
	t.Helper()
	return startHTTPS(t, handler, &tls.Config{Certificates: []tls.Certificate{cert}}, true)
}

// NewHTTPS1Server is NewHTTPSServer without HTTP/2: ALPN offers http/1.1 only.
func NewHTTPS1Server(t testing.TB, cert tls.Certificate, handler http.Handler) *Server {
	t.Helper()
	return startHTTPS(t, handler, &tls.Config{Certificates: []tls.Certificate{cert}}, false)
}

// NewHTTPSServerConfig is NewHTTPSServer with the server's whole TLS configuration
// (for GetCertificate callbacks that look at the ClientHello).
func NewHTTPSServerConfig(t testing.TB, conf *tls.Config, handler http.Handler) *Server {
	t.Helper()
	return startHTTPS(t, handler, conf, true)
}

func startHTTPS(t testing.TB, handler http.Handler, conf *tls.Config, h2 bool) *Server {
	ln := listenTCP(t)
	conf = conf.Clone()
	srv := &http.Server{Handler: handler, TLSConfig: conf, ErrorLog: quietLogger()}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(h2)
	serveUntilCleanup(t, srv, func() error { return srv.ServeTLS(ln, "", "") })
	addr := ln.Addr().String()
	return &Server{Addr: addr, URL: "https://" + addr + "/"}
}

// serveUntilCleanup runs serve in a goroutine and registers a cleanup that closes
// srv and waits for serve to return.
func serveUntilCleanup(t testing.TB, srv *http.Server, serve func() error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = serve() // returns http.ErrServerClosed once Close is called
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
}

// NewHTTPServer serves handler over plain HTTP/1.1 on 127.0.0.1.
func NewHTTPServer(t testing.TB, handler http.Handler) *Server {
	t.Helper()
	ln := listenTCP(t)
	srv := &http.Server{Handler: handler, ErrorLog: quietLogger()}
	serveUntilCleanup(t, srv, func() error { return srv.Serve(ln) })
	addr := ln.Addr().String()
	return &Server{Addr: addr, URL: "http://" + addr + "/"}
}

// NewHTTP3Server serves handler over HTTP/3 (QUIC, ALPN h3) with cert on a UDP
// socket on 127.0.0.1.
func NewHTTP3Server(t testing.TB, cert tls.Certificate, handler http.Handler) *Server {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("netxtest: http3 listen: %v", err)
	}
	srv := &http3.Server{
		Handler:   handler,
		TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}}),
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = srv.Serve(pc) // returns when Close is called
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = pc.Close()
		wg.Wait()
	})
	addr := pc.LocalAddr().String()
	return &Server{Addr: addr, URL: "https://" + addr + "/"}
}
