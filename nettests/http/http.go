// Package http implements the http nettest: it GETs one URL over HTTP/1.1 or
// HTTP/2 (by ALPN) with netx.Fetch, following redirects, and records every DNS
// query, connect, TLS handshake and round trip, as OONI's http experiments.
package http

import (
	"context"
	"errors"
	"fmt"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
)

// Name is the test_name.
const Name = "http"

// Version is the test_version.
const Version = "0.1.0"

// Config tunes the measurer; zero values keep netx's defaults.
type Config struct {
	// MaxRedirects is the redirect budget (netx.DefaultMaxRedirects when zero).
	MaxRedirects int
	// MaxBodyBytes caps each body kept (netx.DefaultMaxBodyBytes when zero).
	MaxBodyBytes int64
}

// TestKeys are the test_keys of one http measurement.
type TestKeys struct {
	Queries       []netx.DNSQueryEvent     `json:"queries"`
	TCPConnect    []netx.TCPConnectEvent   `json:"tcp_connect"`
	TLSHandshakes []netx.TLSHandshakeEvent `json:"tls_handshakes"`
	// Requests are the round trips, the final one first (OONI's order).
	Requests      []netx.RequestEvent `json:"requests"`
	NetworkEvents []netx.NetworkEvent `json:"network_events"`
	// Failure is null when a final response was read whole.
	Failure *string `json:"failure"`
	// XFailedOperation names the phase that failed: resolve, connect,
	// tls_handshake, http_round_trip or read.
	XFailedOperation string `json:"x_failed_operation,omitempty"`
	XStatusCode      int64  `json:"x_status_code"`
	XFinalURL        string `json:"x_final_url"`
	XTitle           string `json:"x_title"`
	XBodyLength      int64  `json:"x_body_length"`
	XRedirects       int    `json:"x_redirects"`
}

// Measurer runs the http nettest.
type Measurer struct {
	cfg  Config
	netx *netx.Client
}

var _ nettests.Measurer = (*Measurer)(nil)

// New builds a measurer from the environment.
func New(env *nettests.Env) (*Measurer, error) { return NewWithConfig(env, Config{}) }

// NewWithConfig builds a measurer with an explicit configuration.
func NewWithConfig(env *nettests.Env, cfg Config) (*Measurer, error) {
	nc := &netx.Client{}
	if env != nil && env.Netx != nil {
		nc = env.Netx
	}
	return &Measurer{cfg: cfg, netx: nc}, nil
}

// Name implements nettests.Measurer.
func (m *Measurer) Name() string { return Name }

// Version implements nettests.Measurer.
func (m *Measurer) Version() string { return Version }

// Run fetches input (an http or https URL). It returns an error only for a URL it
// cannot measure; every network failure is a result.
func (m *Measurer) Run(ctx context.Context, input string, trace *netx.Trace) (any, error) {
	res, err := m.netx.Fetch(ctx, trace, input, netx.FetchOptions{
		MaxRedirects: m.cfg.MaxRedirects,
		MaxBodyBytes: m.cfg.MaxBodyBytes,
	})
	if errors.Is(err, netx.ErrBadURL) {
		return nil, fmt.Errorf("http: input %q: %w", input, err)
	}
	tk := &TestKeys{Failure: netx.FailureOf(err), XFailedOperation: netx.OperationOf(err)}
	if res != nil && res.Final != nil {
		tk.XStatusCode = res.Final.Response.Code
		tk.XFinalURL = res.Final.Request.URL
		tk.XTitle = res.Final.Response.XTitle
		tk.XBodyLength = res.Final.Response.XBodyLength
		tk.XRedirects = len(res.Requests) - 1
	}
	ev := trace.Events()
	tk.Queries, tk.TCPConnect, tk.TLSHandshakes = ev.Queries, ev.TCPConnect, ev.TLSHandshakes
	tk.Requests, tk.NetworkEvents = ev.Requests, ev.NetworkEvents
	return tk, nil
}
