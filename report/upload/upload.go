// Package upload sends queued signed measurements to a collector: in batches, with
// retries, exponential backoff with jitter and Retry-After, isolating any line the
// collector refuses so that one bad measurement never blocks the others.
package upload

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/vantage-probe/vantage/report/clock"
)

// Defaults for the zero values of Client's fields.
const (
	// DefaultBatchSize is how many measurements go in one request: large enough to
	// drain a day of hourly runs in a few requests, small enough that a request on
	// a slow, lossy link finishes well inside DefaultRequestTimeout.
	DefaultBatchSize = 50
	// DefaultMaxBatchBytes caps a request body; a batch stops growing before it.
	// A single larger measurement is still sent alone.
	DefaultMaxBatchBytes = 8 << 20
	// DefaultMaxAttempts is how often one request is tried before the drain gives
	// up for now; the queue keeps everything for the next drain.
	DefaultMaxAttempts = 5
	// DefaultBaseDelay and DefaultMaxDelay bound the exponential backoff between
	// attempts: 1 s, 2 s, 4 s, 8 s (each with jitter), at most 1 min.
	DefaultBaseDelay = time.Second
	DefaultMaxDelay  = time.Minute
	// DefaultMaxRetryAfter is the longest Retry-After the client waits for inside
	// one drain; a collector asking for longer is left alone until the next drain.
	DefaultMaxRetryAfter = 5 * time.Minute
	// DefaultRequestTimeout bounds one request: 8 MiB at 1 Mbit/s takes about a
	// minute, so two leave room for a degraded link.
	DefaultRequestTimeout = 2 * time.Minute
	// maxResponseBytes bounds what is read of an answer.
	maxResponseBytes = 1 << 20
)

// Path is the collector's upload endpoint.
const Path = "/api/v1/measurements"

// Errors returned by Drain. Measurements are never lost by them: whatever was not
// acknowledged stays queued.
var (
	// ErrUnavailable: the collector could not be reached, kept failing (5xx), rate
	// limited the probe for long, or answered something that is not the collector
	// protocol (a captive portal or a block page). Try again later.
	ErrUnavailable = errors.New("collector unavailable")
	// ErrProtocol: the collector refused a request for a reason no single
	// measurement explains (wrong URL, content type, authentication).
	ErrProtocol = errors.New("collector refused the request")
)

// Pending is one signed measurement waiting for upload.
type Pending struct {
	UID      string
	Line     []byte
	Attempts int
}

// Queue is what Drain needs from the probe's store (probe/store implements it).
type Queue interface {
	PendingUploads(ctx context.Context, limit int) ([]Pending, error)
	MarkUploaded(ctx context.Context, uids ...string) error
	MarkUploadFailed(ctx context.Context, uid string, permanent bool, msg string) error
}

// RouteMemory keeps the route that last answered, so that the next drain (the
// next run) starts with it. A Queue that also implements it is used for it.
type RouteMemory interface {
	PreferredRoute(ctx context.Context) (string, error)
	SetPreferredRoute(ctx context.Context, key string) error
}

// Client uploads to a collector over one or more routes. The zero value of every
// field but Collector or Routes selects the default.
type Client struct {
	// Routes are tried in order, the one that answered last first (see
	// RouteMemory); without Routes, Collector (a base URL such as
	// https://collector.example.org) is the one route.
	Routes    []Route
	Collector string
	// HTTP, when set, carries every route without a proxy (tests tee it); nil
	// builds a transport per route with DefaultRequestTimeout.
	HTTP *http.Client
	// TLS is the TLS configuration of the built transports (RootCAs); nil uses
	// the system roots. ServerName is set per request (the front or the host).
	TLS *tls.Config
	// DialContext makes TCP connections (to a collector, a front or a proxy);
	// nil dials with DefaultConnectTimeout.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// OnRouteFailure, when set, is called with the first failure of each route
	// in a drain that failed the way a blocked path fails: a transport error
	// (resolve, connect, TLS handshake, request) or an answer that is not the
	// collector's. The probe records these as measurements of their own.
	OnRouteFailure func(ctx context.Context, f Failure)

	BatchSize     int
	MaxBatchBytes int
	MaxAttempts   int
	BaseDelay     time.Duration
	MaxDelay      time.Duration
	MaxRetryAfter time.Duration

	// Sleep waits between attempts; nil waits on a timer, returning early with
	// ctx's error. Tests record the waits instead.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a number in [0, 1); nil uses math/rand/v2.
	Jitter func() float64
	// Logf, when set, receives one line per retry and per rejected measurement.
	Logf func(format string, args ...any)

	mu      sync.Mutex
	clients map[int]*http.Client // per route, built on first use
}

// Result counts what a drain did.
type Result struct {
	Uploaded   int // acknowledged, newly stored by the collector
	Duplicates int // acknowledged, the collector had them already (a harmless retry)
	Rejected   int // refused for good: marked rejected, never sent again
	Deferred   int // failed this time (5xx), rescheduled by the queue
	Rejections []Rejection
	// Routes says, in the order of Client.Routes, what each route did.
	Routes []RouteReport
	// BytesRaw and BytesSent are the request bodies' sizes before and after
	// compression, of every try that was sent.
	BytesRaw, BytesSent int64
	// Logged are the acknowledged measurements the collector gave a leaf of its
	// transparency log, for CheckLog.
	Logged []Logged
}

// Rejection names a measurement the collector refused and why.
type Rejection struct {
	UID    string
	Reason string
}

// Drain sends every due measurement of q, batch after batch, until the queue has
// nothing due, ctx ends, or the collector is unavailable. Each acknowledged batch is
// marked uploaded before the next is sent, so a crash repeats at most one batch,
// and the measurement_uid makes that repeat harmless.
func (c *Client) Drain(ctx context.Context, q Queue) (Result, error) {
	res := Result{Routes: make([]RouteReport, len(c.routes()))}
	for i, r := range c.routes() {
		if err := r.Validate(); err != nil {
			return res, fmt.Errorf("upload: %w", err)
		}
		res.Routes[i].Route = r
	}
	d := c.newDrain(ctx, q, &res)
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		pending, err := q.PendingUploads(ctx, c.batchSize())
		if err != nil {
			return res, fmt.Errorf("upload: read queue: %w", err)
		}
		if len(pending) == 0 {
			return res, nil
		}
		if err := d.sendBatch(ctx, c.fit(pending)); err != nil {
			return res, err
		}
	}
}

// fit keeps the longest prefix of pending within MaxBatchBytes (at least one).
func (c *Client) fit(pending []Pending) []Pending {
	size := 0
	for i, p := range pending {
		size += len(p.Line) + 1
		if i > 0 && size > c.maxBatchBytes() {
			return pending[:i]
		}
	}
	return pending
}

func (c *Client) batchSize() int     { return orDefault(c.BatchSize, DefaultBatchSize) }
func (c *Client) maxBatchBytes() int { return orDefault(c.MaxBatchBytes, DefaultMaxBatchBytes) }
func (c *Client) maxAttempts() int   { return orDefault(c.MaxAttempts, DefaultMaxAttempts) }
func (c *Client) baseDelay() time.Duration {
	return orDefault(c.BaseDelay, DefaultBaseDelay)
}
func (c *Client) maxDelay() time.Duration { return orDefault(c.MaxDelay, DefaultMaxDelay) }
func (c *Client) maxRetryAfter() time.Duration {
	return orDefault(c.MaxRetryAfter, DefaultMaxRetryAfter)
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func (c *Client) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	return clock.Sleep(ctx, d)
}

// backoff is the wait after the given failed attempt (1-based): exponential, capped,
// with "equal jitter" (half fixed, half random) so that probes that lost the
// collector together do not come back in lockstep.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.baseDelay()
	for i := 1; i < attempt && d < c.maxDelay(); i++ {
		d *= 2
	}
	d = min(d, c.maxDelay())
	j := rand.Float64
	if c.Jitter != nil {
		j = c.Jitter
	}
	return d/2 + time.Duration(j()*float64(d/2))
}
