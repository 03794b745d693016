package netx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"regexp"
	"strings"

	"github.com/miekg/dns"
)

// Failure strings of OONI's data format (df-007-errors), the one vocabulary every
// measurement uses. nil/"" means success.
const (
	FailureGenericTimeout        = "generic_timeout_error"
	FailureInterrupted           = "interrupted"
	FailureConnectionRefused     = "connection_refused"
	FailureConnectionReset       = "connection_reset"
	FailureConnectionAborted     = "connection_aborted"
	FailureHostUnreachable       = "host_unreachable"
	FailureNetworkUnreachable    = "network_unreachable"
	FailureNetworkDown           = "network_down"
	FailureAddressNotAvailable   = "address_not_available"
	FailurePermissionDenied      = "permission_denied"
	FailureEOF                   = "eof_error"
	FailureDNSNXDOMAIN           = "dns_nxdomain_error"
	FailureDNSNoAnswer           = "dns_no_answer"
	FailureDNSRefused            = "dns_refused_error"
	FailureDNSServfail           = "dns_servfail_error"
	FailureDNSServerMisbehaving  = "dns_server_misbehaving"
	FailureDNSBogon              = "dns_bogon_error"
	FailureDNSWrongQueryID       = "dns_reply_with_wrong_query_id"
	FailureSSLInvalidHostname    = "ssl_invalid_hostname"
	FailureSSLUnknownAuthority   = "ssl_unknown_authority"
	FailureSSLInvalidCertificate = "ssl_invalid_certificate"
	FailureSSLFailedHandshake    = "ssl_failed_handshake"
	FailureQUICIncompatible      = "quic_incompatible_version"
	FailureHTTPRequestFailed     = "http_request_failed"
	FailureHTTPTooManyRedirects  = "http_too_many_redirects"
	FailureHTTPInvalidResponse   = "http_invalid_response"
	// FailureUnknownPrefix starts the failure string of an error no rule knows; the
	// rest is the error text, scrubbed of addresses.
	FailureUnknownPrefix = "unknown_failure: "
)

// Error is an error classified into the failure vocabulary. It keeps the original
// error for errors.Is/As.
type Error struct {
	Failure   string // one of the Failure* strings, or FailureUnknownPrefix+text
	Operation string // resolve, connect, tls_handshake, quic_handshake, http_round_trip, read, write
	Err       error
}

func (e *Error) Error() string { return e.Failure }
func (e *Error) Unwrap() error { return e.Err }

// Wrap classifies err for the given operation. It returns nil for nil and leaves an
// already classified error as it is, so wrapping twice is harmless.
func Wrap(operation string, err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	return &Error{Failure: Classify(err), Operation: operation, Err: err}
}

// FailureOf returns the failure string of err: nil for success, else a pointer to the
// classified string, ready for a JSON "failure" field.
func FailureOf(err error) *string {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		s := e.Failure
		return &s
	}
	s := Classify(err)
	return &s
}

// OperationOf returns the operation a classified error failed in (resolve, connect,
// tls_handshake, quic_handshake, http_round_trip, read), or "" when err is nil or
// was not classified by this package.
func OperationOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Operation
	}
	return ""
}

// DNSRcodeError reports a DNS response whose rcode is not success.
type DNSRcodeError struct{ Rcode int }

func (e *DNSRcodeError) Error() string { return "dns: rcode " + dns.RcodeToString[e.Rcode] }

// ErrDNSNoAnswer is returned when a response has no record of the asked type.
var ErrDNSNoAnswer = errors.New("dns: no answer")

// ErrDNSBogon is returned when a resolver answers with a bogon address.
var ErrDNSBogon = errors.New("dns: bogon answer")

// ErrTooManyRedirects is returned when a fetch exceeds its redirect budget.
var ErrTooManyRedirects = errors.New("http: too many redirects")

// Classify maps err to one failure string. Typed checks come first (certificate
// errors, errno values, DNS rcodes), then context errors, and text matching last,
// because error text differs between platforms and library versions.
func Classify(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Failure
	}
	if s := classifyTyped(err); s != "" {
		return s
	}
	if s := classifyText(err.Error()); s != "" {
		return s
	}
	return FailureUnknownPrefix + Scrub(err.Error())
}

func classifyTyped(err error) string {
	var rc *DNSRcodeError
	switch {
	case errors.As(err, &rc):
		return classifyRcode(rc.Rcode)
	case errors.Is(err, ErrDNSNoAnswer):
		return FailureDNSNoAnswer
	case errors.Is(err, ErrDNSBogon):
		return FailureDNSBogon
	case errors.Is(err, ErrDNSWrongQueryID):
		return FailureDNSWrongQueryID
	case errors.Is(err, ErrDNSServerMisbehaving):
		return FailureDNSServerMisbehaving
	case errors.Is(err, ErrTooManyRedirects):
		return FailureHTTPTooManyRedirects
	}
	if s := classifyX509(err); s != "" {
		return s
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		switch {
		case dnsErr.IsNotFound:
			return FailureDNSNXDOMAIN
		case dnsErr.IsTimeout:
			return FailureGenericTimeout
		}
	}
	if s := classifyErrno(err); s != "" {
		return s
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return FailureGenericTimeout
	case errors.Is(err, context.Canceled):
		return FailureInterrupted
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return FailureEOF
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return FailureGenericTimeout
	}
	return ""
}

func classifyRcode(rcode int) string {
	switch rcode {
	case dns.RcodeNameError:
		return FailureDNSNXDOMAIN
	case dns.RcodeRefused:
		return FailureDNSRefused
	case dns.RcodeServerFailure:
		return FailureDNSServfail
	default:
		return FailureDNSServerMisbehaving
	}
}

func classifyX509(err error) string {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &hostname):
		return FailureSSLInvalidHostname
	case errors.As(err, &unknown):
		return FailureSSLUnknownAuthority
	case errors.As(err, &invalid):
		return FailureSSLInvalidCertificate
	case errors.As(err, &verify):
		return FailureSSLInvalidCertificate
	}
	return ""
}

// textRules match error text that carries no type: errors from libraries that format
// rather than wrap (utls, quic-go, net/http). Order matters: the first match wins.
var textRules = []struct{ substr, failure string }{
	{"connection reset by peer", FailureConnectionReset},
	{"connection refused", FailureConnectionRefused},
	{"no route to host", FailureHostUnreachable},
	{"network is unreachable", FailureNetworkUnreachable},
	{"i/o timeout", FailureGenericTimeout},
	{"timeout: no recent network activity", FailureGenericTimeout},
	{"handshake did not complete in time", FailureGenericTimeout},
	{"deadline exceeded", FailureGenericTimeout},
	{"context canceled", FailureInterrupted},
	{"certificate signed by unknown authority", FailureSSLUnknownAuthority},
	{"certificate is valid for", FailureSSLInvalidHostname},
	{"certificate is not valid for", FailureSSLInvalidHostname},
	{"x509:", FailureSSLInvalidCertificate},
	{"unexpected eof", FailureEOF},
	{"eof", FailureEOF},
	{"no compatible quic version", FailureQUICIncompatible},
	{"stopped after 10 redirects", FailureHTTPTooManyRedirects},
	{"malformed http", FailureHTTPInvalidResponse},
	{"response headers exceeded", FailureHTTPInvalidResponse}, // net/http's and http3's header caps
	{"tls: ", FailureSSLFailedHandshake},
	{"crypto_error", FailureSSLFailedHandshake},
	{"no such host", FailureDNSNXDOMAIN},
	{"server misbehaving", FailureDNSServerMisbehaving},
	// Windows' and macOS's texts for the errnos above, for libraries that format
	// an error rather than wrap it (failure_errno.go has the typed tables).
	{"forcibly closed by the remote host", FailureConnectionReset},             // WSAECONNRESET
	{"actively refused it", FailureConnectionRefused},                          // WSAECONNREFUSED
	{"did not properly respond after a period of time", FailureGenericTimeout}, // WSAETIMEDOUT
	{"operation timed out", FailureGenericTimeout},                             // macOS ETIMEDOUT
}

func classifyText(text string) string {
	lower := strings.ToLower(text)
	for _, r := range textRules {
		if strings.Contains(lower, r.substr) {
			return r.failure
		}
	}
	return ""
}

var (
	ipv4Pattern = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`)
	// ipv6Pattern is deliberately loose: it catches anything with at least two colon
	// groups of hex; Scrub then decides which matches are addresses.
	ipv6Pattern = regexp.MustCompile(`\[?[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%[0-9A-Za-z]+)?\]?`)
)

// Scrub replaces every IPv4 and IPv6 address in s with "[scrubbed]".
//
// A text IPv6 address either compresses zeros with "::" or spells all eight groups
// with seven colons (RFC 4291 section 2.2), so a colon run is scrubbed when it holds
// "::" or at least three colons. Clock times such as 07:05:51 (two colons, no "::")
// are kept: they cannot be an address and they help reading a failure. MAC
// addresses (five colons) are scrubbed too, which is wanted: they identify a device.
func Scrub(s string) string {
	s = ipv4Pattern.ReplaceAllString(s, "[scrubbed]")
	return ipv6Pattern.ReplaceAllStringFunc(s, func(m string) string {
		addressLike := strings.Contains(m, "::") || strings.Count(m, ":") >= 3
		if !addressLike || !strings.ContainsAny(strings.Trim(m, "[]:"), "0123456789abcdefABCDEF") {
			return m
		}
		return "[scrubbed]"
	})
}
