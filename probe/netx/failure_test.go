package netx_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/vantage-probe/vantage/probe/netx"
)

// opError wraps errno the way the net package reports a failed syscall.
func opError(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Err: &os.SyscallError{Syscall: op, Err: errno}}
}

func TestClassify(t *testing.T) {
	leaf := &x509.Certificate{}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		// errno values inside *net.OpError / *os.SyscallError
		{"refused", opError("connect", syscall.ECONNREFUSED), netx.FailureConnectionRefused},
		{"reset", opError("read", syscall.ECONNRESET), netx.FailureConnectionReset},
		{"aborted", opError("read", syscall.ECONNABORTED), netx.FailureConnectionAborted},
		{"host unreachable", opError("connect", syscall.EHOSTUNREACH), netx.FailureHostUnreachable},
		{"network unreachable", opError("connect", syscall.ENETUNREACH), netx.FailureNetworkUnreachable},
		{"network down", opError("connect", syscall.ENETDOWN), netx.FailureNetworkDown},
		{"etimedout", opError("connect", syscall.ETIMEDOUT), netx.FailureGenericTimeout},
		{"address not available", opError("connect", syscall.EADDRNOTAVAIL), netx.FailureAddressNotAvailable},
		{"permission", opError("connect", syscall.EPERM), netx.FailurePermissionDenied},
		{"broken pipe", opError("write", syscall.EPIPE), netx.FailureConnectionReset},
		{"errno wrapped in url.Error", &url.Error{Op: "Get", URL: "https://x.test/", Err: opError("connect", syscall.ECONNREFUSED)}, netx.FailureConnectionRefused},
		// certificates
		{"unknown authority", x509.UnknownAuthorityError{Cert: leaf}, netx.FailureSSLUnknownAuthority},
		{"hostname", x509.HostnameError{Certificate: leaf, Host: "x.test"}, netx.FailureSSLInvalidHostname},
		{"expired", x509.CertificateInvalidError{Cert: leaf, Reason: x509.Expired}, netx.FailureSSLInvalidCertificate},
		{"verification wrapping unknown authority", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{Cert: leaf}}, netx.FailureSSLUnknownAuthority},
		{"verification wrapping hostname", &tls.CertificateVerificationError{Err: x509.HostnameError{Certificate: leaf, Host: "x.test"}}, netx.FailureSSLInvalidHostname},
		{"verification, other reason", &tls.CertificateVerificationError{Err: errors.New("some check")}, netx.FailureSSLInvalidCertificate},
		// context and deadlines
		{"deadline", context.DeadlineExceeded, netx.FailureGenericTimeout},
		{"wrapped deadline", fmt.Errorf("dial: %w", context.DeadlineExceeded), netx.FailureGenericTimeout},
		{"os deadline", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, netx.FailureGenericTimeout},
		{"canceled", context.Canceled, netx.FailureInterrupted},
		// DNS
		{"nxdomain", &netx.DNSRcodeError{Rcode: 3}, netx.FailureDNSNXDOMAIN},
		{"servfail", &netx.DNSRcodeError{Rcode: 2}, netx.FailureDNSServfail},
		{"refused rcode", &netx.DNSRcodeError{Rcode: 5}, netx.FailureDNSRefused},
		{"notimp rcode", &netx.DNSRcodeError{Rcode: 4}, netx.FailureDNSServerMisbehaving},
		{"no answer", fmt.Errorf("lookup: %w", netx.ErrDNSNoAnswer), netx.FailureDNSNoAnswer},
		{"misbehaving", netx.ErrDNSServerMisbehaving, netx.FailureDNSServerMisbehaving},
		{"wrong id", netx.ErrDNSWrongQueryID, netx.FailureDNSWrongQueryID},
		{"bogon", netx.ErrDNSBogon, netx.FailureDNSBogon},
		{"system not found", &net.DNSError{Err: "no such host", Name: "x.test", IsNotFound: true}, netx.FailureDNSNXDOMAIN},
		{"system timeout", &net.DNSError{Err: "i/o timeout", Name: "x.test", IsTimeout: true}, netx.FailureGenericTimeout},
		{"system misbehaving", &net.DNSError{Err: "server misbehaving", Name: "x.test"}, netx.FailureDNSServerMisbehaving},
		// EOF
		{"eof", io.EOF, netx.FailureEOF},
		{"unexpected eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), netx.FailureEOF},
		// text fallbacks (libraries that format rather than wrap)
		{"text reset", errors.New("read tcp 10.0.0.2:5555->1.2.3.4:443: read: connection reset by peer"), netx.FailureConnectionReset},
		{"text quic idle", errors.New("timeout: no recent network activity"), netx.FailureGenericTimeout},
		{"text tls alert", errors.New("remote error: tls: handshake failure"), netx.FailureSSLFailedHandshake},
		{"text crypto error", errors.New("CRYPTO_ERROR 0x128 (remote): tls: handshake failure"), netx.FailureSSLFailedHandshake},
		{"text quic version", errors.New("No compatible QUIC version found"), netx.FailureQUICIncompatible},
		// unknown: kept, with addresses scrubbed
		{"unknown", errors.New("strange thing from 203.0.113.5:53 and [2001:db8::5]:853"), netx.FailureUnknownPrefix + "strange thing from [scrubbed]:53 and [scrubbed]:853"},
	}
	for _, c := range cases {
		if got := netx.Classify(c.err); got != c.want {
			t.Errorf("%s: Classify = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestClassifyPrefersTypesToText(t *testing.T) {
	// The text says "connection refused", the errno says reset: the errno wins.
	err := fmt.Errorf("connection refused (says the text): %w", opError("read", syscall.ECONNRESET))
	if got := netx.Classify(err); got != netx.FailureConnectionReset {
		t.Errorf("Classify = %q, want %q", got, netx.FailureConnectionReset)
	}
}

func TestWrapKeepsTheCauseAndIsIdempotent(t *testing.T) {
	cause := opError("connect", syscall.ECONNREFUSED)
	wrapped := netx.Wrap("connect", cause)
	if !errors.Is(wrapped, syscall.ECONNREFUSED) {
		t.Error("Wrap lost the errno for errors.Is")
	}
	var e *netx.Error
	if !errors.As(wrapped, &e) || e.Operation != "connect" || e.Failure != netx.FailureConnectionRefused {
		t.Errorf("Wrap = %#v", wrapped)
	}
	if again := netx.Wrap("read", wrapped); again != wrapped {
		t.Error("wrapping a classified error changed it")
	}
	if netx.Wrap("connect", nil) != nil || netx.FailureOf(nil) != nil {
		t.Error("nil must stay nil")
	}
	if f := netx.FailureOf(context.DeadlineExceeded); f == nil || *f != netx.FailureGenericTimeout {
		t.Errorf("FailureOf(deadline) = %v", f)
	}
}

func TestScrub(t *testing.T) {
	cases := []struct{ in, want string }{
		{"dial tcp 93.184.216.34:443: connect: connection refused", "dial tcp [scrubbed]:443: connect: connection refused"},
		{"lookup on 10.255.255.53", "lookup on [scrubbed]"},
		{"peer 2001:db8:85a3::8a2e:370:7334 went away", "peer [scrubbed] went away"},
		{"peer 2001:db8:85a3:0:0:8a2e:370:7334 went away", "peer [scrubbed] went away"},
		{"dial udp [2001:db8::53]:853: refused", "dial udp [scrubbed]:853: refused"},
		{"loopback ::1 and [::1]:53", "loopback [scrubbed] and [scrubbed]:53"},
		{"link fe80::1%eth0 down", "link [scrubbed] down"},
		{"mac 00:1a:2b:3c:4d:5e", "mac [scrubbed]"},
		// Clock times are kept: two colons and no "::" cannot be an IPv6 address.
		{"at 07:05:51 the peer left", "at 07:05:51 the peer left"},
		{"at 2026-11-28T07:05:51Z", "at 2026-11-28T07:05:51Z"},
		{"no address here: tls: bad record MAC", "no address here: tls: bad record MAC"},
	}
	for _, c := range cases {
		if got := netx.Scrub(c.in); got != c.want {
			t.Errorf("Scrub(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestScrubLeavesNoDigitsOfMappedAddresses(t *testing.T) {
	got := netx.Scrub("from ::ffff:198.51.100.23 port 53")
	if strings.Contains(got, "198") || strings.Contains(got, "ffff") {
		t.Errorf("Scrub left part of the address: %q", got)
	}
}
