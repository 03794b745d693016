package dnstest

import (
	"crypto/tls"
	"io"
	"log"
	"mime"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/miekg/dns"
)

// DoHPath is the path of the DoH endpoint, the one RFC 8484's examples use.
const DoHPath = "/dns-query"

// maxDoHQuery caps the request body the DoH handler reads: a DNS message is at
// most 65535 bytes.
const maxDoHQuery = 65535

// StartDoT starts a DNS-over-TLS server (RFC 7858) with the same rules, its
// certificate issued by s.CA for ServerNames, and returns its resolver URL
// "tls://127.0.0.1:PORT".
func (s *Server) StartDoT(t testing.TB) string {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{issue(t, s.CA)}, MinVersion: tls.VersionTLS12}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatalf("dnstest: listen dot: %v", err)
	}
	s.serve(t, nil, ln)
	return "tls://" + ln.Addr().String()
}

// StartDoH starts a DNS-over-HTTPS server (RFC 8484, POST of the wire message,
// HTTP/2 offered) with the same rules, its certificate issued by s.CA, and returns
// its resolver URL "https://127.0.0.1:PORT/dns-query".
func (s *Server) StartDoH(t testing.TB) string {
	t.Helper()
	hs := httptest.NewUnstartedServer(http.HandlerFunc(s.serveDoH))
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{issue(t, s.CA)}, MinVersion: tls.VersionTLS12}
	hs.EnableHTTP2 = true
	// Handshakes that fail on purpose (untrusted-certificate tests) are not news.
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.StartTLS()
	t.Cleanup(func() {
		s.stop() // first, so that a black-holed request stops waiting
		hs.Close()
	})
	return hs.URL + DoHPath
}

// serveDoH answers one POSTed query the way ServeDNS answers a TCP one.
func (s *Server) serveDoH(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != DoHPath {
		http.NotFound(w, r)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Method != http.MethodPost || mt != "application/dns-message" {
		http.Error(w, "POST application/dns-message only", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxDoHQuery))
	req := new(dns.Msg)
	if err != nil || req.Unpack(body) != nil || len(req.Question) != 1 {
		http.Error(w, "bad DNS query", http.StatusBadRequest)
		return
	}
	packets := s.packets(req, s.lookupRule(req.Question[0]), false)
	if len(packets) == 0 { // black hole: hold the request until the client gives up
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	}
	w.Header().Set("Content-Type", "application/dns-message")
	_, _ = w.Write(packets[0].data)
}
