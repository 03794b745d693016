package netx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Limits of one Fetch. Every phase of every hop has its own timeout so that a stall
// is attributed to the phase where it happened (tls.timeout is not http.failure).
const (
	// DefaultMaxRedirects is the redirect budget. Ten is net/http's Client figure;
	// real sites need two or three, and loops must end.
	DefaultMaxRedirects = 10
	// DefaultMaxBodyBytes caps the body kept per response (after gzip decoding). One
	// MiB holds any block page and the start of any real page, which is all the
	// comparison and the title need, and bounds memory per measurement.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultResponseHeaderTimeout bounds the wait between sending a request and
	// the end of the response headers: a server that accepted the connection and
	// the handshake answers in far less, a middlebox that swallows the request never.
	DefaultResponseHeaderTimeout = 10 * time.Second
	// DefaultBodyTimeout is the time budget for reading one body while it
	// progresses (a stall ends it sooner, see DefaultMinBodyRate): one MiB at
	// 1 Mbit/s takes about eight seconds, and at a throttled 40 kbit/s twenty
	// seconds still bring 100 KB, enough to measure the rate. A transfer still
	// moving when the budget ends is kept, partial, as the result; twenty seconds
	// leave a URL's 60 s room for its DNS, connects and handshakes.
	DefaultBodyTimeout = 20 * time.Second
	// DefaultMaxHeaderBytes caps a response's header section (HTTP/1.1 bytes, the
	// HTTP/2 and HTTP/3 header list): real sites, cookies included, stay far below
	// it, while a server that never ends its headers cannot grow memory until the
	// header timeout.
	DefaultMaxHeaderBytes = 256 << 10
	// DefaultFetchTimeout bounds a whole Fetch, redirects included: three slow
	// hops fit, while a chain of stalling servers cannot hold a runner worker for
	// the sum of every phase of every hop (minutes).
	DefaultFetchTimeout = 90 * time.Second
)

// ErrBadURL is returned for a URL Fetch cannot measure (no host, scheme not http or
// https): the input was wrong, nothing was measured.
var ErrBadURL = errors.New("netx: fetch: bad URL")

// FetchOptions tunes one Fetch. The zero value follows DefaultMaxRedirects, keeps
// DefaultMaxBodyBytes and uses the default timeouts.
type FetchOptions struct {
	// Address pins the first hop to IP:port; Host header and SNI still come from
	// the URL. Web connectivity fetches through each resolved address this way.
	Address string
	// HTTP3 fetches over QUIC (HTTP/3) instead of TCP.
	HTTP3 bool
	// MaxRedirects is the redirect budget; zero means DefaultMaxRedirects and a
	// negative value follows none (the redirect response is the final one).
	MaxRedirects int
	// MaxBodyBytes caps each body kept; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Header adds to or replaces the default browser-like request headers.
	Header http.Header
	// ConnectTimeout and TLSTimeout bound TCP connect and the TLS or QUIC
	// handshake; zero means the Client's step timeout.
	ConnectTimeout, TLSTimeout time.Duration
	// HeaderTimeout bounds waiting for the response headers; zero means
	// DefaultResponseHeaderTimeout.
	HeaderTimeout time.Duration
	// BodyTimeout is the time budget for reading the body; zero means
	// DefaultBodyTimeout. A body still arriving at MinBodyRate or faster when it
	// ends is returned as it is, flagged (XBodyStopped "time_budget"), with no error.
	BodyTimeout time.Duration
	// MinBodyRate (bytes per second) and BodyRateWindow: a window that brings
	// fewer than MinBodyRate × BodyRateWindow body bytes ends the read with
	// generic_timeout_error, the partial body kept. Zero means DefaultMinBodyRate
	// and DefaultBodyRateWindow; a negative MinBodyRate turns the check off.
	MinBodyRate    int64
	BodyRateWindow time.Duration
	// TotalTimeout bounds the whole Fetch; zero means DefaultFetchTimeout.
	TotalTimeout time.Duration
	// Resolve turns a host name into addresses for hops that are not pinned; nil
	// means the Client's resolver (see Client.resolveHost).
	Resolve func(ctx context.Context, trace *Trace, host string) ([]string, error)
}

// FetchResult is what a Fetch saw.
type FetchResult struct {
	// Requests is the redirect chain in order, the final round trip last (the
	// trace holds the same events in OONI's reverse order).
	Requests []RequestEvent
	// Final is the last round trip: the final response, or the one that failed.
	Final *RequestEvent
	// Body is the final response body, decoded and capped.
	Body []byte
	// BodyTruncated says Body is not the whole body: it stopped at the cap, or at
	// the time budget while still arriving (Final.Response.XBodyStopped).
	BodyTruncated bool
	// TLS is the handshake of the final hop; nil for plain http.
	TLS *TLSHandshakeEvent
}

// Fetch GETs rawURL over HTTP/1.1 or HTTP/2 (by ALPN) on DialTCP and HandshakeTLS, or
// over HTTP/3 when opts.HTTP3, following redirects itself up to the budget. Every
// round trip is recorded as a requests event. The result is never nil unless the
// URL is bad (ErrBadURL); the error is the classified failure of the last hop
// (its Operation says which phase: resolve, connect, tls_handshake, quic_handshake,
// http_round_trip, read), or http_too_many_redirects when the budget ran out.
func (c *Client) Fetch(ctx context.Context, trace *Trace, rawURL string, opts FetchOptions) (*FetchResult, error) {
	u, err := parseFetchURL(rawURL)
	if err != nil {
		return nil, err
	}
	if opts.HTTP3 && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: HTTP/3 needs an https URL: %q", ErrBadURL, rawURL)
	}
	opts = opts.withDefaults(c)
	trace = orDiscard(trace)
	ctx, cancel := context.WithTimeout(ctx, opts.TotalTimeout)
	defer cancel()
	res := &FetchResult{}
	defer func() {
		if n := len(res.Requests); n > 0 {
			res.Final = &res.Requests[n-1]
		}
	}()
	for hop := 0; ; hop++ {
		pinned := ""
		if hop == 0 {
			pinned = opts.Address
		}
		out := c.fetchOnce(ctx, trace, u, pinned, opts)
		res.Requests = append(res.Requests, out.event)
		res.TLS = out.tls
		if out.err != nil {
			res.Body, res.BodyTruncated = out.body, out.truncated
			return res, out.err
		}
		next, ok := redirectTarget(u, out.status, out.location)
		// QUIRK: an HTTP/3 fetch does not follow a redirect to http://, which QUIC
		// cannot carry: the redirect is the final response.
		if !ok || opts.MaxRedirects < 0 || (opts.HTTP3 && next.Scheme != "https") {
			res.Body, res.BodyTruncated = out.body, out.truncated
			return res, nil
		}
		if hop >= opts.MaxRedirects {
			return res, Wrap("http_round_trip", fmt.Errorf("netx: fetch %s: %w", Scrub(rawURL), ErrTooManyRedirects))
		}
		u = next
	}
}

func parseFetchURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: %q", ErrBadURL, rawURL)
	}
	return u, nil
}

func (o FetchOptions) withDefaults(c *Client) FetchOptions {
	if o.MaxRedirects == 0 {
		o.MaxRedirects = DefaultMaxRedirects
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = c.StepTimeout()
	}
	if o.TLSTimeout <= 0 {
		o.TLSTimeout = c.StepTimeout()
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = DefaultResponseHeaderTimeout
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if o.MinBodyRate == 0 {
		o.MinBodyRate = DefaultMinBodyRate
	}
	if o.BodyRateWindow <= 0 {
		o.BodyRateWindow = DefaultBodyRateWindow
	}
	if o.TotalTimeout <= 0 {
		o.TotalTimeout = DefaultFetchTimeout
	}
	if o.Resolve == nil {
		o.Resolve = c.resolveHost
	}
	return o
}

// redirectTarget returns where a redirect response points, resolved against the
// current URL, when status is a redirect with a usable http(s) Location.
func redirectTarget(current *url.URL, status int, location string) (*url.URL, bool) {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil, false
	}
	if location == "" {
		return nil, false
	}
	next, err := current.Parse(location)
	if err != nil || (next.Scheme != "http" && next.Scheme != "https") || next.Hostname() == "" {
		return nil, false
	}
	return next, true
}

// urlHostPort returns the URL's host and port, the port defaulted by scheme.
func urlHostPort(u *url.URL) (string, string) {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return u.Hostname(), port
}

// hopAddresses lists the IP:port addresses a hop may use: the pinned one, the IP
// literal of the URL, or what the resolver returns.
func hopAddresses(ctx context.Context, trace *Trace, u *url.URL, pinned string, opts FetchOptions) ([]string, error) {
	if pinned != "" {
		return []string{pinned}, nil
	}
	host, port := urlHostPort(u)
	if ip := net.ParseIP(host); ip != nil {
		return []string{net.JoinHostPort(host, port)}, nil
	}
	addrs, err := opts.Resolve(ctx, trace, host)
	if err != nil {
		return nil, Wrap("resolve", err)
	}
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, net.JoinHostPort(a, port))
	}
	return out, nil
}

// defaultRequestHeaders are sent with every request unless FetchOptions.Header
// replaces them: a request that looks like a browser's is filtered as a browser's.
var defaultRequestHeaders = map[string]string{
	"Accept":          "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
	"Accept-Language": "en-US,en;q=0.9",
	"Accept-Encoding": "gzip",
	"User-Agent":      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36",
}

// newRequest builds the GET of one hop.
func newRequest(ctx context.Context, u *url.URL, extra http.Header) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("netx: fetch: new request: %w", err)
	}
	for k, v := range defaultRequestHeaders {
		req.Header.Set(k, v)
	}
	for k, vs := range extra {
		req.Header[http.CanonicalHeaderKey(k)] = append([]string{}, vs...)
	}
	return req, nil
}

// requestRecord is the request half of a requests event. Host is listed first, as
// it goes on the wire.
func requestRecord(req *http.Request, transport string) HTTPRequest {
	h := req.Header.Clone()
	h.Set("Host", req.Host)
	if req.Host == "" {
		h.Set("Host", req.URL.Host)
	}
	list, m := headerRecords(h)
	return HTTPRequest{
		HeadersList: list,
		Headers:     m,
		Method:      req.Method,
		URL:         req.URL.String(),
		XTransport:  transport,
	}
}

// headerRecords turns a header into OONI's ordered list (keys sorted, since Go's
// map has no order) and its first-value map.
func headerRecords(h http.Header) ([]HTTPHeader, map[string]MaybeBinary) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	list := make([]HTTPHeader, 0, len(keys))
	m := make(map[string]MaybeBinary, len(keys))
	for _, k := range keys {
		for _, v := range h[k] {
			list = append(list, HTTPHeader{MaybeBinary(k), MaybeBinary(v)})
		}
		if len(h[k]) > 0 {
			m[k] = MaybeBinary(h[k][0])
		}
	}
	return list, m
}

// transportOf names the transport of a hop for the request record (x_transport)
// and the network of its event.
func transportOf(http3 bool) (transport, network string) {
	if http3 {
		return "quic", "udp"
	}
	return "tcp", "tcp"
}
