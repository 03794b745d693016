package netx

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"time"

	"github.com/miekg/dns"
)

// dohContentType is the media type of DNS messages over HTTPS (RFC 8484 section 6).
const dohContentType = "application/dns-message"

// maxDoHReplySize caps the body read from a DoH server: a DNS message is at most
// 65535 bytes (RFC 8484 section 6 keeps the wire format's limits).
const maxDoHReplySize = 65535

// dohTransport POSTs the wire query to a DoH URL (RFC 8484 section 4.1) with its own
// HTTP client: the configured roots, no proxy from the environment, and timeouts.
type dohTransport struct {
	url    string
	client *http.Client
}

var _ dnsTransport = (*dohTransport)(nil)

// dial is Client.Dial, the one stream seam, bounded here by the step timeout.
func newDoHTransport(rawURL string, roots *x509.CertPool, timeout time.Duration, dial DialFunc) *dohTransport {
	transport := &http.Transport{
		Proxy: nil, // a measurement goes where it says, never via a proxy
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return dial(ctx, network, address)
		},
		TLSClientConfig:        &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           2,
	}
	return &dohTransport{url: rawURL, client: &http.Client{Transport: transport, Timeout: timeout}}
}

func (t *dohTransport) close() { t.client.CloseIdleConnections() }

func (t *dohTransport) exchange(ctx context.Context, q *dns.Msg, now func() time.Time) ([]timedReply, int, error) {
	packed, err := q.Pack()
	if err != nil {
		return nil, 0, fmt.Errorf("dns: pack query: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(packed))
	if err != nil {
		return nil, 0, fmt.Errorf("dns: doh request: %w", err)
	}
	req.Header.Set("Content-Type", dohContentType)
	req.Header.Set("Accept", dohContentType)
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, 0, contextError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("%w: doh: HTTP status %d", ErrDNSServerMisbehaving, resp.StatusCode)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != dohContentType {
		return nil, 0, fmt.Errorf("%w: doh: content type %q", ErrDNSServerMisbehaving, mt)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxDoHReplySize+1))
	if err != nil {
		return nil, 0, contextError(ctx, err)
	}
	if len(raw) > maxDoHReplySize {
		return nil, 0, fmt.Errorf("%w: doh: reply over %d bytes", ErrDNSServerMisbehaving, maxDoHReplySize)
	}
	reply, err := checkStreamReply(raw, q)
	if err != nil {
		return nil, 0, err
	}
	return []timedReply{{raw: raw, at: now(), reply: reply}}, 0, nil
}
