package webconnectivity

import (
	"slices"
	"sync"
	"time"
)

// Adaptive step timeouts. A step (one DNS exchange, one connect, one handshake) gets
// clamp(timeoutMultiplier × the timeoutPercentile of the recent successful step
// durations, timeoutFloor, timeoutCeiling). Rationale in docs/methodology.md.
const (
	// timeoutMultiplier: four times the slow end of what already worked leaves room
	// for jitter and a retransmission on a path that behaves, yet cuts a black hole
	// short instead of waiting OONI's fixed 10 s.
	timeoutMultiplier = 4
	// timeoutPercentile: the 90th percentile, so a few fast cache hits do not shrink
	// the budget below what ordinary steps need.
	timeoutPercentile = 0.9
	// timeoutFloor: TCP retransmits a lost SYN after 1 s (RFC 6298 initial RTO), so
	// no step budget may be shorter than one retransmission plus a round trip.
	timeoutFloor = 2 * time.Second
	// timeoutCeiling: OONI's per-step figure (ooni-design.md §2.2); no step ever
	// waits longer, however slow the network looked.
	timeoutCeiling = 10 * time.Second
	// defaultInitialTimeout: before any sample, and without run.timeout, a step
	// gets the ceiling: nothing is known yet about the network.
	defaultInitialTimeout = timeoutCeiling
	// rttWindow: the estimator remembers the last 256 samples, a few URLs' worth,
	// so it follows a network that changes during a long run.
	rttWindow = 256
)

// RTTEstimator keeps the durations of recent successful steps, run-wide. It is safe
// for concurrent use: one Measurer serves the runner's whole pool.
type RTTEstimator struct {
	mu      sync.Mutex
	samples []time.Duration // ring buffer of at most rttWindow
	next    int
}

// Add records the duration of a step that succeeded.
func (e *RTTEstimator) Add(d time.Duration) {
	if d <= 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.samples) < rttWindow {
		e.samples = append(e.samples, d)
		return
	}
	e.samples[e.next] = d
	e.next = (e.next + 1) % rttWindow
}

// Percentile returns the p-quantile (0..1) of the samples, and false without any.
func (e *RTTEstimator) Percentile(p float64) (time.Duration, bool) {
	e.mu.Lock()
	s := slices.Clone(e.samples)
	e.mu.Unlock()
	if len(s) == 0 {
		return 0, false
	}
	slices.Sort(s)
	i := int(p * float64(len(s)-1))
	return s[i], true
}

// TimeoutPolicy turns samples into a step budget.
type TimeoutPolicy struct {
	Initial time.Duration // before any sample
	Floor   time.Duration
	Ceiling time.Duration
}

// StepTimeout returns the budget for the next step.
func (e *RTTEstimator) StepTimeout(p TimeoutPolicy) time.Duration {
	high, ok := e.Percentile(timeoutPercentile)
	if !ok {
		return p.Initial
	}
	floor := min(p.Floor, p.Ceiling)
	return min(max(timeoutMultiplier*high, floor), p.Ceiling)
}
