// Package thproto defines the wire format of the web-connectivity control (the "test
// helper", TH): the request a probe sends and the response the helper returns. It
// follows OONI's TH protocol (probe-cli internal/model/th.go, summarised in
// ../shared/reference/ooni-design.md §3) so that either side can talk to OONI's, and
// adds vantage's own fields with an x_ prefix.
package thproto

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
)

// Request is what a probe POSTs to a helper.
type Request struct {
	// HTTPRequest is the URL to measure (http or https).
	HTTPRequest string `json:"http_request"`
	// HTTPRequestHeaders are the headers the probe sends, so the control fetch looks
	// like the probe's.
	HTTPRequestHeaders map[string][]string `json:"http_request_headers"`
	// TCPConnect lists the IP:port endpoints the probe resolved and will connect to.
	TCPConnect []string `json:"tcp_connect"`
	// XQUICEnabled asks the helper to try QUIC/HTTP3 when the site advertises h3.
	XQUICEnabled bool `json:"x_quic_enabled"`
}

// TCPResult is the control's connect to one endpoint.
type TCPResult struct {
	Status  bool    `json:"status"`
	Failure *string `json:"failure"`
}

// TLSResult is the control's TLS (or QUIC) handshake with one endpoint. The x_ fields
// let a probe compare certificate chains: an interceptor shows a different issuer.
type TLSResult struct {
	ServerName      string  `json:"server_name"`
	Status          bool    `json:"status"`
	Failure         *string `json:"failure"`
	XLeafIssuer     string  `json:"x_leaf_issuer,omitempty"`
	XLeafSPKISHA256 string  `json:"x_leaf_spki_sha256,omitempty"`
}

// HTTPResult is the control's fetch of the URL. BodyLength and StatusCode are -1 on
// failure, as OONI's.
type HTTPResult struct {
	BodyLength           int64             `json:"body_length"`
	DiscoveredH3Endpoint string            `json:"discovered_h3_endpoint"`
	Failure              *string           `json:"failure"`
	Title                string            `json:"title"`
	Headers              map[string]string `json:"headers"`
	StatusCode           int64             `json:"status_code"`
	XBodySHA256          string            `json:"x_body_sha256,omitempty"`
	XFinalURL            string            `json:"x_final_url,omitempty"`
	// XFetchSeconds is how long the fetch took, redirects and body included: with
	// BodyLength it tells whether the server itself is slow.
	XFetchSeconds float64 `json:"x_fetch_seconds,omitempty"`
}

// DNSResult is the control's resolution of the URL's host.
type DNSResult struct {
	Failure *string  `json:"failure"`
	Addrs   []string `json:"addrs"`
}

// IPInfo describes one address either side resolved.
type IPInfo struct {
	ASN   int64 `json:"asn"`
	Flags int64 `json:"flags"`
}

// ip_info flag bits, as OONI's (ooni-design.md §3).
const (
	FlagResolvedByProbe = 1
	FlagResolvedByTH    = 2
	FlagBogon           = 4
	FlagValidForDomain  = 8 // a TLS handshake with the URL's host as SNI validated
)

// Response is what a helper answers.
type Response struct {
	TCPConnect    map[string]TCPResult `json:"tcp_connect"`
	TLSHandshake  map[string]TLSResult `json:"tls_handshake"`
	QUICHandshake map[string]TLSResult `json:"quic_handshake"`
	HTTPRequest   HTTPResult           `json:"http_request"`
	HTTP3Request  *HTTPResult          `json:"http3_request"`
	DNS           DNSResult            `json:"dns"`
	IPInfo        map[string]IPInfo    `json:"ip_info"`
	// XClientIP is the address the helper saw the request come from: the probe's
	// public address, which the probe scrubs from every measurement.
	XClientIP string `json:"x_client_ip,omitempty"`
	// XClientCC, XClientASN ("AS9198") and XClientNetworkName locate that address;
	// set only when the helper has IP databases (.mmdb).
	XClientCC          string `json:"x_client_cc,omitempty"`
	XClientASN         string `json:"x_client_asn,omitempty"`
	XClientNetworkName string `json:"x_client_network_name,omitempty"`
}

// ErrorResponse is the body of every 4xx/5xx answer.
type ErrorResponse struct {
	Error string `json:"error"`
}

// Failure strings of the TH protocol that differ from the probe's vocabulary. OONI's
// helper maps DNS and TCP failures into this older vocabulary (oohelperd dns.go
// dnsMapFailure, tcptls.go); vantage's helper does the same so OONI probes can read it.
const (
	FailureDNSNameError      = "dns_name_error"
	FailureDNSServerFailure  = "dns_server_failure"
	FailureUnknownError      = "unknown_error"
	FailureConnectionRefused = "connection_refused_error"
	FailureConnectError      = "connect_error"
	FailureGenericTimeout    = "generic_timeout_error"
	// FailurePrivateRefused marks an endpoint the helper refused to contact because it
	// is loopback, private or otherwise not public (the helper is not an open proxy).
	FailurePrivateRefused = "x_private_address_refused"
)

// Limits a well-formed request must respect.
const (
	// MaxRequestBytes bounds a request body: a URL, a few headers and at most
	// MaxEndpoints addresses fit in far less.
	MaxRequestBytes = 64 << 10
	// MaxEndpoints bounds tcp_connect: a name rarely has more than a handful of
	// addresses, and each costs the helper a connect and a handshake.
	MaxEndpoints = 32
	// MaxURLBytes bounds http_request.
	MaxURLBytes = 4096
)

// ErrBadRequest is wrapped by every validation error of ParseRequest.
var ErrBadRequest = errors.New("thproto: bad request")

// ParseRequest decodes and validates a request body of at most MaxRequestBytes.
func ParseRequest(r io.Reader) (*Request, error) {
	dec := json.NewDecoder(io.LimitReader(r, MaxRequestBytes+1))
	var req Request
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("%w: invalid JSON: %w", ErrBadRequest, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrBadRequest)
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	return &req, nil
}

// Validate checks the fields a helper relies on.
func (r *Request) Validate() error {
	if len(r.HTTPRequest) > MaxURLBytes {
		return fmt.Errorf("%w: http_request longer than %d bytes", ErrBadRequest, MaxURLBytes)
	}
	u, err := url.Parse(r.HTTPRequest)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Errorf("%w: http_request %q is not an http:// or https:// URL", ErrBadRequest, r.HTTPRequest)
	}
	if len(r.TCPConnect) > MaxEndpoints {
		return fmt.Errorf("%w: tcp_connect has %d endpoints, at most %d allowed", ErrBadRequest, len(r.TCPConnect), MaxEndpoints)
	}
	for _, ep := range r.TCPConnect {
		host, port, err := net.SplitHostPort(ep)
		if err != nil || net.ParseIP(host) == nil || port == "" {
			return fmt.Errorf("%w: tcp_connect entry %q is not IP:port", ErrBadRequest, ep)
		}
	}
	for k, vs := range r.HTTPRequestHeaders {
		if strings.ContainsAny(k, "\r\n:") {
			return fmt.Errorf("%w: header name %q", ErrBadRequest, k)
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n") {
				return fmt.Errorf("%w: header %q has a line break", ErrBadRequest, k)
			}
		}
	}
	return nil
}

// ParseResponse decodes a helper's answer of at most limit bytes.
func ParseResponse(r io.Reader, limit int64) (*Response, error) {
	var resp Response
	if err := json.NewDecoder(io.LimitReader(r, limit)).Decode(&resp); err != nil {
		return nil, fmt.Errorf("thproto: invalid response: %w", err)
	}
	return &resp, nil
}
