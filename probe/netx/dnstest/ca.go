package dnstest

import (
	"crypto/tls"
	"testing"

	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// ServerNames are the names and addresses every certificate of Server carries, so
// that a client may verify it as "127.0.0.1", "::1", "localhost" or "dns.test".
var ServerNames = []string{"127.0.0.1", "::1", "localhost", "dns.test"}

// NewCA creates the throwaway CA of a test (netxtest's: the one test CA of the
// project).
func NewCA(t testing.TB) *netxtest.CA {
	t.Helper()
	ca, err := netxtest.NewCA("dnstest throwaway CA")
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	return ca
}

// issue returns a server certificate for ServerNames, signed by ca.
func issue(t testing.TB, ca *netxtest.CA) tls.Certificate {
	t.Helper()
	cert, err := ca.Issue(ServerNames...)
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	return cert
}
