package service

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writePair writes a fresh self-signed certificate for cn to dir/name.crt and
// .key (each through a rename, as a deploy tool does) and returns its serial.
func writePair(t *testing.T, dir, name, cn string) *big.Int {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	put := func(path, typ string, b []byte) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	put(filepath.Join(dir, name+".crt"), "CERTIFICATE", der)
	put(filepath.Join(dir, name+".key"), "PRIVATE KEY", kder)
	return serial
}

// handshake opens a TLS connection and returns the serial it was served and the
// protocol negotiated.
func handshake(t *testing.T, addr string) (*big.Int, string) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := c.ConnectionState()
	return st.PeerCertificates[0].SerialNumber, st.NegotiatedProtocol
}

func TestCertificateReplacedOnDiskIsServedByTheNextHandshake(t *testing.T) {
	dir := t.TempDir()
	first := writePair(t, dir, "s", "collector.test")
	cfg, reloader, err := TLSOptions{CertFile: filepath.Join(dir, "s.crt"), KeyFile: filepath.Join(dir, "s.key")}.TLS(slog.New(slog.DiscardHandler))
	if err != nil || reloader == nil {
		t.Fatalf("TLS: %v %v", reloader, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{TLSConfig: cfg, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	})}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	if got, proto := handshake(t, addr); got.Cmp(first) != 0 || proto != "h2" {
		t.Fatalf("first handshake: serial %v proto %q, want %v over h2", got, proto, first)
	}
	// A connection opened before the replacement must survive it.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	get := func() string {
		resp, err := client.Get("https://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b) + " " + resp.TLS.PeerCertificates[0].SerialNumber.String()
	}
	before := get()
	if before != "HTTP/2.0 "+first.String() {
		t.Fatalf("request before: %q", before)
	}

	second := writePair(t, dir, "s", "collector.test")
	if got, _ := handshake(t, addr); got.Cmp(second) != 0 {
		t.Fatalf("handshake after the replacement: serial %v, want the new %v", got, second)
	}
	if after := get(); after != before {
		t.Errorf("the open connection changed: %q then %q (want it kept, no reconnect)", before, after)
	}

	// A broken replacement keeps the working certificate.
	if err := os.WriteFile(filepath.Join(dir, "s.crt"), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := handshake(t, addr); got.Cmp(second) != 0 {
		t.Errorf("after a broken replacement: serial %v, want the previous %v", got, second)
	}
	if err := reloader.Reload(); err == nil {
		t.Errorf("Reload of a broken pair succeeded")
	}
	// Reload (what SIGHUP calls) picks up a fixed pair.
	third := writePair(t, dir, "s", "collector.test")
	if err := reloader.Reload(); err != nil {
		t.Fatal(err)
	}
	if got, _ := handshake(t, addr); got.Cmp(third) != 0 {
		t.Errorf("after Reload: serial %v, want %v", got, third)
	}
}

func TestTLSOptionsRefuseHalfPairsAndBothSources(t *testing.T) {
	for name, o := range map[string]TLSOptions{
		"cert only":     {CertFile: "a.crt"},
		"key only":      {KeyFile: "a.key"},
		"cert and acme": {CertFile: "a.crt", KeyFile: "a.key", ACMEDomains: []string{"x.example"}},
		"missing files": {CertFile: "/nonexistent/a.crt", KeyFile: "/nonexistent/a.key"},
	} {
		if _, _, err := o.TLS(slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	cfg, r, err := TLSOptions{ACMEDomains: []string{"collector.example"}, ACMECache: t.TempDir()}.TLS(slog.New(slog.DiscardHandler))
	if err != nil || r != nil || cfg == nil || cfg.GetCertificate == nil {
		t.Fatalf("acme: %v %v %v", cfg, r, err)
	}
	hasALPN := map[string]bool{}
	for _, p := range cfg.NextProtos {
		hasALPN[p] = true
	}
	if !hasALPN["h2"] || !hasALPN["acme-tls/1"] {
		t.Errorf("acme NextProtos %v: want h2 and acme-tls/1", cfg.NextProtos)
	}
	// A name outside --acme-domain is refused without asking any CA.
	if _, err := cfg.GetCertificate(&tls.ClientHelloInfo{ServerName: "other.example"}); err == nil {
		t.Errorf("certificate for a name not configured")
	}
}
