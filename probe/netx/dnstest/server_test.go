package dnstest_test

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/vantage-probe/vantage/probe/netx/dnstest"
)

// readReplies sends a query for name from a fresh UDP socket and reads up to n
// datagrams, each within a second.
func readReplies(t *testing.T, addr, name string, n int) [][]byte {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q := new(dns.Msg).SetQuestion(dns.Fqdn(name), dns.TypeA)
	b, _ := q.Pack()
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	buf := make([]byte, 2048)
	for range n {
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		k, err := conn.Read(buf)
		if err != nil {
			break
		}
		out = append(out, append([]byte(nil), buf[:k]...))
	}
	return out
}

func firstA(t *testing.T, raw []byte) string {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(raw); err != nil {
		t.Fatalf("unpack: %v", err)
	}
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return ""
}

func TestInjectedSendsTheForgedReplyFirstFromTheSameSocket(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{"x.test": dnstest.Injected([]string{"10.0.0.1"}, dnstest.Answer("198.51.100.1"))})
	replies := readReplies(t, srv.UDPAddr, "x.test", 2)
	if len(replies) != 2 || firstA(t, replies[0]) != "10.0.0.1" || firstA(t, replies[1]) != "198.51.100.1" {
		t.Fatalf("got %d replies, want the forged then the real one", len(replies))
	}
	if srv.Queries("X.TEST.", "A") != 1 {
		t.Errorf("Queries = %d, want 1 (names are case-insensitive)", srv.Queries("x.test", "A"))
	}
}

func TestMalformedReplyDoesNotUnpack(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{"bad.test": {Malformed: true, BlackHole: true}})
	replies := readReplies(t, srv.UDPAddr, "bad.test", 1)
	if len(replies) != 1 {
		t.Fatalf("got %d replies, want the malformed one", len(replies))
	}
	if err := new(dns.Msg).Unpack(replies[0]); err == nil {
		t.Error("the malformed reply unpacked")
	}
}

func TestDoHRefusesGET(t *testing.T) {
	srv := dnstest.NewServer(t, nil)
	url := srv.StartDoH(t)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.CA.Pool(), MinVersion: tls.VersionTLS12}}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("GET status = %d, want 415", resp.StatusCode)
	}
	q, _ := new(dns.Msg).SetQuestion("nowhere.test.", dns.TypeA).Pack()
	resp, err = client.Post(url, "application/dns-message", bytes.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/dns-message" {
		t.Errorf("POST = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
