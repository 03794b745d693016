package netx

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Body reading is bounded by progress, not by a fixed deadline: a transfer that
// keeps moving is not a failure however slow it is, a transfer that stops is.
const (
	// DefaultMinBodyRate is the slowest body transfer, in bytes per second, that
	// still counts as progressing: 1,000 B/s (8 kbit/s), below the slowest bearer a
	// volunteer may still be on (GSM circuit data, 9.6 kbit/s) and far below any
	// policer seen throttling sites (Russia held Twitter at 130-150 kbit/s,
	// detection-methods.md §4.1). A censor that stalls a transfer after its first
	// bytes sends nothing, far below it.
	DefaultMinBodyRate = 1000
	// DefaultBodyRateWindow is the span over which the minimum rate is checked: a
	// window that brings fewer than rate × window bytes ends the read as stalled.
	// Five seconds spans several TCP retransmission timeouts, so a lossy but
	// moving link passes, while a stall is caught within five seconds of its start.
	DefaultBodyRateWindow = 5 * time.Second
)

// Why a body read stopped before its end (HTTPResponse.XBodyStopped).
const (
	// BodyStoppedBudget: the body was still arriving at or above the minimum rate
	// when the time budget (FetchOptions.BodyTimeout) ran out. The partial body is
	// the result, not a failure.
	BodyStoppedBudget = "time_budget"
	// BodyStoppedStalled: the transfer fell below the minimum rate; the read failed
	// with generic_timeout_error and the partial body is kept as evidence.
	BodyStoppedStalled = "stalled"
)

// errBodyStalled is the cause of a read that fell below the minimum rate.
var errBodyStalled = errors.New("netx: body transfer below the minimum rate")

// bodyPace watches one body read: it counts the bytes that arrive (before any
// decoding), ends the read when a rate window brings too few of them or when the
// time budget runs out, and says afterwards which of the two happened.
type bodyPace struct {
	minRate float64 // bytes per second; <= 0: no rate check
	window  time.Duration
	stop    func() // ends the read: cancels the request, expires the conn

	start   time.Time
	bytes   atomic.Int64
	reason  atomic.Value // string: BodyStoppedBudget or BodyStoppedStalled
	done    chan struct{}
	wg      sync.WaitGroup
	budget  *time.Timer
	elapsed time.Duration
}

// startBodyPace starts watching a body read under opts (already defaulted).
func startBodyPace(cancel context.CancelFunc, raw net.Conn, opts FetchOptions) *bodyPace {
	p := &bodyPace{
		minRate: float64(opts.MinBodyRate),
		window:  opts.BodyRateWindow,
		start:   time.Now(),
		done:    make(chan struct{}),
	}
	p.stop = func() {
		cancel()
		if raw != nil {
			_ = raw.SetDeadline(time.Unix(1, 0))
		}
	}
	p.budget = time.AfterFunc(opts.BodyTimeout, func() { p.end(BodyStoppedBudget) })
	if p.minRate > 0 && p.window > 0 {
		p.wg.Go(p.watch)
	}
	return p
}

// watch checks every window that the window brought at least minRate × window bytes.
func (p *bodyPace) watch() {
	ticker := time.NewTicker(p.window)
	defer ticker.Stop()
	need := int64(p.minRate * p.window.Seconds())
	last := int64(0)
	for {
		select {
		case <-p.done:
			return
		case <-ticker.C:
			n := p.bytes.Load()
			if n-last < need {
				p.end(BodyStoppedStalled)
				return
			}
			last = n
		}
	}
}

// end stops the read for reason; the first reason wins.
func (p *bodyPace) end(reason string) {
	if p.reason.CompareAndSwap(nil, reason) {
		p.stop()
	}
}

// wrap counts what is read through body.
func (p *bodyPace) wrap(body io.ReadCloser) io.ReadCloser {
	return &pacedBody{ReadCloser: body, n: &p.bytes}
}

// finish stops watching and turns the read's error into the body's outcome: nil
// with BodyStoppedBudget when the budget ran out on a transfer at or above the
// minimum rate over its whole length, a generic_timeout_error with
// BodyStoppedStalled when the rate fell short, else err as it was.
func (p *bodyPace) finish(err error) (stopped string, _ error) {
	p.budget.Stop()
	close(p.done)
	p.wg.Wait()
	p.elapsed = time.Since(p.start)
	reason, _ := p.reason.Load().(string)
	if err == nil || reason == "" {
		return "", err
	}
	if reason == BodyStoppedBudget && (p.minRate <= 0 || p.rate() >= p.minRate) {
		return BodyStoppedBudget, nil
	}
	return BodyStoppedStalled, &Error{Failure: FailureGenericTimeout, Operation: "read", Err: errors.Join(errBodyStalled, err)}
}

// rate is the average body rate so far, in bytes per second.
func (p *bodyPace) rate() float64 {
	s := time.Since(p.start).Seconds()
	if p.elapsed > 0 {
		s = p.elapsed.Seconds()
	}
	if s <= 0 {
		return 0
	}
	return float64(p.bytes.Load()) / s
}

// pacedBody counts the bytes read through it.
type pacedBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *pacedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
