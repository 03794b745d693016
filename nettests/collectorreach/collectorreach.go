// Package collectorreach turns an upload route that failed the way a blocked path
// fails into a measurement of its own, collector_reachability, so that
// researchers see that collection itself was blocked, on which route and how.
//
// It is not run over a list: the upload client reports the first blocked-looking
// failure of each route in a drain (report/upload.Failure), and the probe signs,
// stores and queues the measurement like any other; it leaves by the first route
// that works.
package collectorreach

import (
	"context"
	"errors"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/internal/service"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/report/upload"
)

// Name and Version of the measurement.
const (
	Name    = "collector_reachability"
	Version = "0.1.0"
)

// TestKeys describe one failed upload route.
type TestKeys struct {
	// Collector is the route's collector URL (also the measurement's input).
	Collector string `json:"collector"`
	// Front is the name dialled and sent as TLS SNI on a fronted route.
	Front *string `json:"front"`
	// Proxy is the route's proxy URL without credentials.
	Proxy *string `json:"proxy"`
	// Failure is OONI's failure string of a transport error
	// (connection_reset, generic_timeout_error, ...); nil when the route
	// answered with something that is not the collector's acknowledgement.
	Failure *string `json:"failure"`
	// FailedOperation is where it failed: resolve, connect, tls_handshake,
	// http_round_trip.
	FailedOperation *string `json:"failed_operation"`
	// StatusCode is the HTTP status of a non-collector answer (a block page
	// answering 200); nil after a transport error.
	StatusCode *int `json:"status_code"`
	// Method says how the path failed, in the per-URL vocabulary (tcp.timeout,
	// tcp.reset, tls.reset, tls.mitm, dns.nxdomain, http.blockpage, ...).
	// With no control to compare with, it is the shape of the failure, not a
	// verdict that the collector was censored.
	Method *string `json:"method"`
	// Detail is the failure in words, scrubbed of addresses.
	Detail string `json:"detail"`
	// Elapsed is how long the failed try took, in seconds.
	Elapsed float64 `json:"elapsed"`
}

// Keys describes f.
func Keys(f upload.Failure) *TestKeys {
	tk := &TestKeys{Collector: f.Route.URL, Detail: netx.Scrub(f.Detail), Elapsed: f.Elapsed.Seconds()}
	if f.Route.Front != "" {
		tk.Front = &f.Route.Front
	}
	if f.Route.Proxy != "" {
		p := f.Route.RedactedProxy()
		tk.Proxy = &p
	}
	var method string
	if f.Err != nil {
		failure := netx.Classify(f.Err)
		op := f.Operation
		tk.Failure, tk.FailedOperation = &failure, &op
		method = service.MethodOf(op, failure)
	} else {
		status := f.Status
		tk.StatusCode = &status
		method = nettests.MethodHTTPBlockpage
	}
	if method != "" {
		tk.Method = &method
	}
	return tk
}

// Measurer hands the keys of one failure to the runner's measurement builder, so
// that the measurement has the same envelope as every other.
type Measurer struct{ Failure upload.Failure }

var _ nettests.Measurer = Measurer{}

// ErrNoFailure is returned for a Measurer without a failed route.
var ErrNoFailure = errors.New("collectorreach: no failed route to record")

func (Measurer) Name() string    { return Name }
func (Measurer) Version() string { return Version }

// Run returns the failure's keys; there is nothing to measure.
func (m Measurer) Run(_ context.Context, _ string, _ *netx.Trace) (any, error) {
	if m.Failure.Route.URL == "" {
		return nil, ErrNoFailure
	}
	return Keys(m.Failure), nil
}
