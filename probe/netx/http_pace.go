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
	// DefaultBodyRateWindow is the sliding span over which the minimum rate is
	// checked: when the last ten seconds brought fewer than rate × window bytes,
	// the read ends as stalled. A shaper that drops packets makes TCP back off
	// (1, 2, 4 s retransmission timeouts, RFC 6298), so a transfer that moves can
	// go quiet for several seconds; ten seconds span such a backoff, and a stall is
	// still caught ten seconds after its last byte.
	DefaultBodyRateWindow = 10 * time.Second
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
	mu      sync.Mutex
	samples []paceSample // guarded by mu
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

// watch checks, ten times a window, that the last window brought at least
// minRate × window bytes (once a whole window has passed).
func (p *bodyPace) watch() {
	ticker := time.NewTicker(max(p.window/10, time.Millisecond))
	defer ticker.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-ticker.C:
			if !p.progressing(false) {
				p.end(BodyStoppedStalled)
				return
			}
		}
	}
}

// progressing records a sample and reports whether the last window moved at least
// at the minimum rate. Before a whole window has passed, a check in the middle of
// the read passes, and the final one (final: the budget ran out) judges the whole
// read's average instead.
func (p *bodyPace) progressing(final bool) bool {
	now, n := time.Since(p.start), p.bytes.Load()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.samples = append(p.samples, paceSample{at: now, bytes: n})
	if now < p.window {
		return !final || float64(n) >= p.minRate*now.Seconds()
	}
	// The newest sample at least a window old is where the window starts.
	from := paceSample{}
	for len(p.samples) > 1 && p.samples[1].at <= now-p.window {
		p.samples = p.samples[1:]
	}
	if p.samples[0].at <= now-p.window {
		from = p.samples[0]
	}
	need := p.minRate * (now - from.at).Seconds()
	return float64(n-from.bytes) >= need
}

// paceSample is the byte count at one instant of a read.
type paceSample struct {
	at    time.Duration
	bytes int64
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
// with BodyStoppedBudget when the budget ran out on a transfer still at or above
// the minimum rate over the last window, a generic_timeout_error with
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
	if reason == BodyStoppedBudget && (p.minRate <= 0 || p.progressing(true)) {
		return BodyStoppedBudget, nil
	}
	return BodyStoppedStalled, &Error{Failure: FailureGenericTimeout, Operation: "read", Err: errors.Join(errBodyStalled, err)}
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
