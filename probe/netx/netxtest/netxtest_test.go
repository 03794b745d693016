package netxtest_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"testing"

	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

func TestIssuedChainsVerifyOnlyAgainstTheirCA(t *testing.T) {
	ca := netxtest.MustCA(t, "Root A")
	other := netxtest.MustCA(t, "Root B")
	cert := netxtest.MustIssue(t, ca, "example.test", "127.0.0.1")
	inter := x509.NewCertPool()
	inter.AddCert(ca.Intermediate)
	for _, name := range []string{"example.test", "127.0.0.1"} {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: ca.Pool(), Intermediates: inter}); err != nil {
			t.Errorf("leaf does not verify for %s against its CA: %v", name, err)
		}
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "example.test", Roots: other.Pool(), Intermediates: inter}); err == nil {
		t.Error("leaf verifies against another CA")
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "other.test", Roots: ca.Pool(), Intermediates: inter}); err == nil {
		t.Error("leaf verifies for a name it was not issued for")
	}
	block, _ := pem.Decode(ca.RootPEM())
	if block == nil || string(block.Bytes) != string(ca.Root.Raw) {
		t.Error("RootPEM does not hold the root")
	}
}

func TestExpiredLeafFailsVerification(t *testing.T) {
	ca := netxtest.MustCA(t, "Root")
	cert, err := ca.IssueExpired("example.test")
	if err != nil {
		t.Fatal(err)
	}
	inter := x509.NewCertPool()
	inter.AddCert(ca.Intermediate)
	_, err = cert.Leaf.Verify(x509.VerifyOptions{DNSName: "example.test", Roots: ca.Pool(), Intermediates: inter})
	var invalid x509.CertificateInvalidError
	if !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
		t.Errorf("verify error %v, want expired", err)
	}
}

func TestClosedPortRefuses(t *testing.T) {
	addr := netxtest.ClosedPort(t)
	if conn, err := net.Dial("tcp", addr); err == nil {
		conn.Close()
		t.Fatalf("dial %s succeeded, want refused", addr)
	}
}

func TestURLFor(t *testing.T) {
	s := &netxtest.Server{Addr: "127.0.0.1:8443", URL: "https://127.0.0.1:8443/"}
	if got := s.URLFor("example.test"); got != "https://example.test:8443/" {
		t.Errorf("URLFor = %q", got)
	}
	if s.Port() != "8443" {
		t.Errorf("Port = %q", s.Port())
	}
}

// TestRootCAHasNoIntermediate: the lab's interceptor serves leaves signed by its
// root itself, so the leaf's issuer is the root's name.
func TestRootCAHasNoIntermediate(t *testing.T) {
	ca, err := netxtest.NewRootCA("Qaznet Trust Network")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue("example.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.Certificate) != 2 || cert.Leaf.Issuer.CommonName != "Qaznet Trust Network" || cert.Leaf.Issuer.Organization[0] != "Qaznet Trust Network" {
		t.Fatalf("chain of %d, issuer %v", len(cert.Certificate), cert.Leaf.Issuer)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "example.test", Roots: ca.Pool()}); err != nil {
		t.Fatalf("leaf does not verify against the root alone: %v", err)
	}
}
