package webconnectivity

import (
	"fmt"
	"slices"
	"sync"

	"github.com/vantage-probe/vantage/nettests"
)

// Throttling: a page that loads, but far slower than the run's other pages over the
// same access path (detection-methods.md §4.2 and §7 "throttled").
const (
	// throttleMinBytes: below 64 KiB a transfer's time is round trips and slow start,
	// not the rate, so smaller pages are neither judged nor used as samples.
	throttleMinBytes = 64 << 10
	// throttleRatio: a page below a quarter of the run's median throughput is far
	// slower than its peers (detection-methods.md §7: thr_target/thr_control < 0.25).
	throttleRatio = 0.25
	// throttleMaxBytesPerSecond: and at or below about 1 Mbit/s, the policers' range
	// (Russia throttled Twitter to 130–150 kbit/s, detection-methods.md §4.1).
	throttleMaxBytesPerSecond = 1e6 / 8
	// throughputWindow: the run's last 64 large fetches.
	throughputWindow = 64
)

// throughputs keeps the run's recent large-fetch throughputs. Safe for concurrent use.
type throughputs struct {
	mu      sync.Mutex
	samples []float64
}

// median returns the median throughput and the number of samples.
func (t *throughputs) median() (float64, int) {
	t.mu.Lock()
	s := slices.Clone(t.samples)
	t.mu.Unlock()
	if len(s) == 0 {
		return 0, 0
	}
	slices.Sort(s)
	return s[len(s)/2], len(s)
}

// add records the throughput of a fetch when it was large enough to measure a rate.
func (t *throughputs) add(h *HTTPObservation) {
	bps, ok := throughputOf(h)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.samples = append(t.samples, bps)
	if len(t.samples) > throughputWindow {
		t.samples = t.samples[1:]
	}
}

// throughputOf returns a successful fetch's bytes per second, when it measures a
// rate: a body of at least throttleMinBytes, or one the time budget stopped while
// it was still arriving (a transfer that lasted the whole budget is no longer
// round trips and slow start, whatever its size).
func throughputOf(h *HTTPObservation) (float64, bool) {
	if h == nil || h.Attempts.Successes() == 0 || h.TransferSeconds <= 0 || h.BodyLength == 0 {
		return 0, false
	}
	if h.BodyLength < throttleMinBytes && !h.BudgetStopped {
		return 0, false
	}
	return float64(h.BodyLength) / h.TransferSeconds, true
}

// throttle judges a page that loaded: throttled when its throughput is below
// throttleRatio of the run's median and below throttleMaxBytesPerSecond, unless the
// control found the server itself that slow.
func (d *decider) throttle() *Decision {
	bps, ok := throughputOf(d.o.HTTP)
	if !ok || d.o.RunThroughputSamples == 0 {
		return nil
	}
	if bps >= throttleRatio*d.o.RunThroughput || bps > throttleMaxBytesPerSecond {
		return nil
	}
	if c := d.ctl; c != nil && c.HTTPRequest.XFetchSeconds > 0 && c.HTTPRequest.BodyLength >= throttleMinBytes &&
		float64(c.HTTPRequest.BodyLength)/c.HTTPRequest.XFetchSeconds <= throttleMaxBytesPerSecond {
		return nil // the server is as slow for the control: not the path's doing
	}
	ev := attemptEvidence("http", d.o.HTTP.Attempts)
	ev.Detail = fmt.Sprintf("%.0f kbit/s for %d bytes, against a median of %.0f kbit/s over %d other pages of this run",
		bps*8/1000, d.o.HTTP.BodyLength, d.o.RunThroughput*8/1000, d.o.RunThroughputSamples)
	return &Decision{Verdict: nettests.VerdictThrottled, Evidence: ev}
}
