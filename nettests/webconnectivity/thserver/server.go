// Package thserver is the web-connectivity control helper: an HTTP server that, given
// a URL and the addresses a probe resolved, measures the same URL from outside the
// censored network (DNS, TCP, TLS, the fetch, QUIC/HTTP3) and answers in OONI's TH
// protocol (package thproto). It is bounded in concurrency, request and body sizes
// and time, and refuses to reach loopback, private or other non-public addresses
// unless started for a lab.
package thserver

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
)

// Defaults of Config, each with its reason.
const (
	// DefaultMaxInFlight bounds requests measured at once. OONI's helper sheds load
	// above 25 and 50 in-flight requests (ooni-design.md §3); 32 keeps a small VPS
	// responsive.
	DefaultMaxInFlight = 32
	// DefaultQueueWait is how long a request over DefaultMaxInFlight waits for a
	// slot before a 503: a helper request takes well under a second on a clean
	// path, so a burst (a probe's pool starting, several probes at once) is absorbed
	// instead of failing, while a helper that stays saturated still sheds load. A
	// waiting request holds only its connection's goroutine, its body unread.
	DefaultQueueWait = time.Second
	// DefaultMaxBodyBytes caps the page body the helper reads: 4 MiB is far above
	// any page's HTML and, times DefaultMaxInFlight, bounds memory to 128 MiB.
	DefaultMaxBodyBytes = 4 << 20
	// DefaultDNSTimeout: OONI's helper gives its lookup 4 s.
	DefaultDNSTimeout = 4 * time.Second
	// DefaultEndpointTimeout bounds the connect and handshake of one endpoint,
	// OONI's 10 s step (ooni-design.md §2.2).
	DefaultEndpointTimeout = 10 * time.Second
	// DefaultFetchTimeout bounds the whole fetch, redirects included: 12 s, so DNS,
	// fetch and QUIC together stay within DefaultRequestTimeout.
	DefaultFetchTimeout = 12 * time.Second
	// DefaultQUICTimeout bounds the QUIC handshakes and the HTTP/3 fetch, done after
	// the fetch found an h3 endpoint.
	DefaultQUICTimeout = 4 * time.Second
	// DefaultRequestTimeout bounds one request end to end: below the probe's 25 s
	// per-helper budget, so the answer arrives before the probe gives up.
	DefaultRequestTimeout = 20 * time.Second
	// maxEndpointsMeasured bounds the endpoints measured per request: the probe's
	// (at most thproto.MaxEndpoints) and the helper's own addresses on each port.
	maxEndpointsMeasured = 48
	// maxRedirects is OONI's and net/http's figure.
	maxRedirects = 10
)

// LookupFunc resolves a host name to IP addresses.
type LookupFunc func(ctx context.Context, host string) ([]string, error)

// Config configures the helper.
type Config struct {
	// Lookup resolves names ([network] resolver); required.
	Lookup LookupFunc
	// Roots replaces the system roots ([tls] roots) when not nil.
	Roots *x509.CertPool
	// AllowPrivate lets the helper reach loopback and private addresses: the lab
	// flag. Off, the helper refuses them, so it cannot be used to probe the network
	// it runs in.
	AllowPrivate bool
	// Geo are IP databases (.mmdb) that give x_client_cc, x_client_asn,
	// x_client_network_name and ip_info's asn; none leaves them out (asn 0).
	Geo []GeoDB
	// QUIC enables QUIC handshakes and HTTP/3 fetches when asked and advertised.
	QUIC bool
	// Limits; zero means the Default* value.
	MaxInFlight int
	// QueueWait: how long a request waits for a slot; negative: 503 at once.
	QueueWait       time.Duration
	MaxBodyBytes    int64
	DNSTimeout      time.Duration
	EndpointTimeout time.Duration
	FetchTimeout    time.Duration
	QUICTimeout     time.Duration
	RequestTimeout  time.Duration
	Logger          *slog.Logger
}

// Server is the helper's http.Handler.
type Server struct {
	cfg     Config
	sem     chan struct{}
	waiting atomic.Int64 // requests queued for a slot
}

var _ http.Handler = (*Server)(nil)

// ErrNoLookup is returned by New without a resolver.
var ErrNoLookup = errors.New("thserver: no resolver (Config.Lookup)")

// New returns a helper with cfg's limits, defaults filled.
func New(cfg Config) (*Server, error) {
	if cfg.Lookup == nil {
		return nil, ErrNoLookup
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.DNSTimeout, DefaultDNSTimeout)
	def(&cfg.EndpointTimeout, DefaultEndpointTimeout)
	def(&cfg.FetchTimeout, DefaultFetchTimeout)
	def(&cfg.QUICTimeout, DefaultQUICTimeout)
	def(&cfg.RequestTimeout, DefaultRequestTimeout)
	if cfg.QueueWait == 0 {
		cfg.QueueWait = DefaultQueueWait
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, sem: make(chan struct{}, cfg.MaxInFlight)}, nil
}

// ServeHTTP answers GET / with a greeting (a health check, as OONI's helper) and POST
// / with a measurement. Every error is a JSON {"error": ...} with a 4xx or 5xx code.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		writeError(w, http.StatusNotFound, "not found: the helper answers on / only")
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]string{"message": "vantage web-connectivity helper"})
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed: POST a TH request")
		return
	}
	if !s.acquire(r.Context()) {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "too many requests in flight, retry later")
		return
	}
	defer func() { <-s.sem }()
	req, status, err := s.readRequest(w, r)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	resp := s.measure(ctx, req)
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		s.fillClient(resp, host)
	}
	writeJSON(w, http.StatusOK, resp)
}

// acquire takes a measuring slot, waiting at most QueueWait for one.
func (s *Server) acquire(ctx context.Context) bool {
	select {
	case s.sem <- struct{}{}:
		return true
	default:
	}
	if s.cfg.QueueWait < 0 {
		return false
	}
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	t := time.NewTimer(s.cfg.QueueWait)
	defer t.Stop()
	select {
	case s.sem <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// readRequest decodes and checks the body. It returns the HTTP status of the error.
func (s *Server) readRequest(w http.ResponseWriter, r *http.Request) (*thproto.Request, int, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
		return nil, http.StatusUnsupportedMediaType, errors.New("content type must be application/json")
	}
	body := http.MaxBytesReader(w, r.Body, thproto.MaxRequestBytes)
	req, err := thproto.ParseRequest(body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, http.StatusRequestEntityTooLarge, errors.New("request body too large")
	case err != nil:
		return nil, http.StatusBadRequest, err
	}
	u, _ := url.Parse(req.HTTPRequest) // Validate parsed it already
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !s.allowed(ip) {
		return nil, http.StatusForbidden, errors.New("the URL's host is not a public address (the helper is not a proxy to private networks)")
	}
	return req, 0, nil
}

// isJSON reports whether a Content-Type is JSON, parameters (charset) allowed.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// allowed reports whether the helper may contact ip.
func (s *Server) allowed(ip netip.Addr) bool {
	return s.cfg.AllowPrivate || !thproto.IsBogon(ip.String())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, thproto.ErrorResponse{Error: msg})
}
