package netx_test

import (
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// testTimeout is the step timeout injected where a test waits for a timeout: long
// enough for any loopback exchange, short enough to keep the suite fast.
const testTimeout = 300 * time.Millisecond

// newTrace returns a trace on the real clock starting now.
func newTrace() *netx.Trace { return netx.NewTrace(time.Now(), nil) }

// failure returns the classified failure string of err, "" for nil.
func failure(err error) string {
	if f := netx.FailureOf(err); f != nil {
		return *f
	}
	return ""
}

// operation returns the Operation of a classified error.
func operation(err error) string {
	var e *netx.Error
	if errors.As(err, &e) {
		return e.Operation
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// pki is a CA with the leaves the tests need.
type pki struct {
	ca        *netxtest.CA
	good      tls.Certificate // for example.test and 127.0.0.1
	wrongName tls.Certificate // for other.test
	untrusted tls.Certificate // for example.test, from another CA
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca := netxtest.MustCA(t, "Test Root")
	other := netxtest.MustCA(t, "Interceptor Root")
	return &pki{
		ca:        ca,
		good:      netxtest.MustIssue(t, ca, "example.test", "127.0.0.1"),
		wrongName: netxtest.MustIssue(t, ca, "other.test"),
		untrusted: netxtest.MustIssue(t, other, "example.test"),
	}
}

// clientHellos runs f once per ClientHello flavour.
func clientHellos(t *testing.T, f func(t *testing.T, hello string)) {
	for _, hello := range []string{netx.ClientHelloChrome, netx.ClientHelloGo} {
		t.Run(hello, func(t *testing.T) { f(t, hello) })
	}
}
