package netx

import (
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"
)

// The event shapes below follow OONI's data format (df-001 httpt, df-002 dnst,
// df-005 tcpconnect, df-006 tlshandshake, df-008 netevents). Times t0 and t are
// seconds since the measurement's zero time. Fields vantage adds start with x_.

// DNSAnswer is one answer record.
type DNSAnswer struct {
	AnswerType string  `json:"answer_type"`
	IPv4       string  `json:"ipv4,omitempty"`
	IPv6       string  `json:"ipv6,omitempty"`
	Hostname   string  `json:"hostname,omitempty"`
	TTL        *uint32 `json:"ttl"`
	ASN        int64   `json:"asn"`
	ASOrgName  string  `json:"as_org_name"`
}

// DNSQueryEvent is one query and what came back (df-002). Every further UDP reply to
// the same query is recorded as its own event with XDuplicate set: different data in
// two replies is the evidence of on-path injection.
type DNSQueryEvent struct {
	Answers         []DNSAnswer `json:"answers"`
	Engine          string      `json:"engine"` // system, udp, tcp, dot, doh
	Failure         *string     `json:"failure"`
	Hostname        string      `json:"hostname"`
	QueryType       string      `json:"query_type"`
	RawResponse     []byte      `json:"raw_response,omitempty"` // base64 in JSON
	Rcode           int         `json:"rcode"`
	ResolverAddress string      `json:"resolver_address"`
	T0              float64     `json:"t0"`
	T               float64     `json:"t"`
	Tags            []string    `json:"tags"`
	TransactionID   int64       `json:"transaction_id"`
	XDuplicate      bool        `json:"x_duplicate,omitempty"`
}

// TCPStatus is the outcome of one connect.
type TCPStatus struct {
	Blocked *bool   `json:"blocked,omitempty"`
	Failure *string `json:"failure"`
	Success bool    `json:"success"`
}

// TCPConnectEvent is one TCP connect (df-005).
type TCPConnectEvent struct {
	IP            string    `json:"ip"`
	Port          int       `json:"port"`
	Status        TCPStatus `json:"status"`
	T0            float64   `json:"t0"`
	T             float64   `json:"t"`
	Tags          []string  `json:"tags"`
	TransactionID int64     `json:"transaction_id"`
}

// PeerCertificate is one certificate of the chain the peer sent, DER in base64.
type PeerCertificate struct {
	Data   []byte `json:"data"`
	Format string `json:"format"` // always "base64"
}

// TLSHandshakeEvent is one TLS or QUIC handshake (df-006). The handshake is recorded
// even when the chain does not validate: the chain is then the evidence. Failure is
// null when the handshake completed, even if the chain did not verify; XVerified and
// XVerifyFailure (ssl_unknown_authority, ssl_invalid_hostname, ...) say that.
type TLSHandshakeEvent struct {
	Network            string            `json:"network"` // tcp or udp (QUIC)
	Address            string            `json:"address"`
	CipherSuite        string            `json:"cipher_suite"`
	Failure            *string           `json:"failure"`
	NegotiatedProtocol string            `json:"negotiated_protocol"`
	NoTLSVerify        bool              `json:"no_tls_verify"`
	PeerCertificates   []PeerCertificate `json:"peer_certificates"`
	ServerName         string            `json:"server_name"`
	TLSVersion         string            `json:"tls_version"`
	T0                 float64           `json:"t0"`
	T                  float64           `json:"t"`
	Tags               []string          `json:"tags"`
	TransactionID      int64             `json:"transaction_id"`
	XClientHello       string            `json:"x_client_hello,omitempty"` // "chrome" (utls) or "go"
	XLeafSPKISHA256    string            `json:"x_leaf_spki_sha256,omitempty"`
	XLeafIssuer        string            `json:"x_leaf_issuer,omitempty"`
	XLeafSubject       string            `json:"x_leaf_subject,omitempty"`
	XRootIssuer        string            `json:"x_root_issuer,omitempty"` // issuer of the last cert sent
	XVerified          bool              `json:"x_verified"`
	XVerifyFailure     *string           `json:"x_verify_failure"`
}

// MaybeBinary is a string that is emitted as a JSON string when it is valid UTF-8 and
// as {"format":"base64","data":...} otherwise, as OONI's MaybeBinaryValue.
type MaybeBinary string

// MarshalJSON implements json.Marshaler.
func (m MaybeBinary) MarshalJSON() ([]byte, error) {
	if utf8.ValidString(string(m)) {
		return json.Marshal(string(m))
	}
	return json.Marshal(map[string]string{"format": "base64", "data": base64.StdEncoding.EncodeToString([]byte(m))})
}

// UnmarshalJSON implements json.Unmarshaler for both forms.
func (m *MaybeBinary) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*m = MaybeBinary(s)
		return nil
	}
	var bin struct {
		Format string `json:"format"`
		Data   []byte `json:"data"`
	}
	if err := json.Unmarshal(b, &bin); err != nil {
		return err
	}
	*m = MaybeBinary(bin.Data)
	return nil
}

// HTTPHeader is one header line, kept in order.
type HTTPHeader [2]MaybeBinary

// HTTPRequest is the request half of a request event.
type HTTPRequest struct {
	Body            MaybeBinary            `json:"body"`
	BodyIsTruncated bool                   `json:"body_is_truncated"`
	HeadersList     []HTTPHeader           `json:"headers_list"`
	Headers         map[string]MaybeBinary `json:"headers"`
	Method          string                 `json:"method"`
	URL             string                 `json:"url"`
	XTransport      string                 `json:"x_transport"` // tcp or quic
}

// HTTPResponse is the response half of a request event.
type HTTPResponse struct {
	Body            MaybeBinary            `json:"body"`
	BodyIsTruncated bool                   `json:"body_is_truncated"`
	Code            int64                  `json:"code"`
	HeadersList     []HTTPHeader           `json:"headers_list"`
	Headers         map[string]MaybeBinary `json:"headers"`
	XBodyLength     int64                  `json:"x_body_length"` // bytes read, before any cap
	XBodySHA256     string                 `json:"x_body_sha256,omitempty"`
	XTitle          string                 `json:"x_title,omitempty"`
	// XBodyBytes and XBodySeconds are the bytes that arrived for the body (before
	// decoding) and how long reading it took, from the end of the headers: the
	// transfer's rate, which a partial body keeps.
	XBodyBytes   int64   `json:"x_body_bytes,omitempty"`
	XBodySeconds float64 `json:"x_body_seconds,omitempty"`
	// XBodyStopped says why the read stopped before the body's end: "time_budget"
	// (still progressing when the budget ran out: the partial body is the result)
	// or "stalled" (below the minimum rate: a read failure); "" otherwise.
	XBodyStopped string `json:"x_body_stopped,omitempty"`
}

// RequestEvent is one HTTP round trip (df-001). A measurement's list is in reverse
// order, the final response first, as OONI's.
type RequestEvent struct {
	Network       string       `json:"network"`
	Address       string       `json:"address"`
	ALPN          string       `json:"alpn"`
	Failure       *string      `json:"failure"`
	Request       HTTPRequest  `json:"request"`
	Response      HTTPResponse `json:"response"`
	T0            float64      `json:"t0"`
	T             float64      `json:"t"`
	Tags          []string     `json:"tags"`
	TransactionID int64        `json:"transaction_id"`
}

// NetworkEvent is one low-level I/O event (df-008): connect, read, write, read_from,
// write_to, tls_handshake_start, tls_handshake_done, ...
type NetworkEvent struct {
	Address       string   `json:"address,omitempty"`
	Failure       *string  `json:"failure"`
	NumBytes      int64    `json:"num_bytes,omitempty"`
	Operation     string   `json:"operation"`
	Proto         string   `json:"proto,omitempty"`
	T0            float64  `json:"t0"`
	T             float64  `json:"t"`
	Tags          []string `json:"tags"`
	TransactionID int64    `json:"transaction_id"`
}

// Events is everything a trace recorded, in the test_keys layout of OONI.
type Events struct {
	Queries        []DNSQueryEvent     `json:"queries"`
	TCPConnect     []TCPConnectEvent   `json:"tcp_connect"`
	TLSHandshakes  []TLSHandshakeEvent `json:"tls_handshakes"`
	QUICHandshakes []TLSHandshakeEvent `json:"quic_handshakes"`
	Requests       []RequestEvent      `json:"requests"`
	NetworkEvents  []NetworkEvent      `json:"network_events"`
}
