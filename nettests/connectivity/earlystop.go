package connectivity

import (
	"context"
	"sync"
	"time"
)

// The early stop (docs/methodology-network.md, "Early stop"): on a network where
// everything answers, the rounds after the first add time and no information,
// unless the network flips later in the check. A check therefore ends before its
// last round only when both hold:
//   - every ordinary canary (domestic and foreign) answered on the first try on
//     every protocol it is measured on, DNS included, in every round so far; and
//   - the pulses, sent since the check began, cover at least EarlyStopWindow, every
//     one of them answered, and none is still in flight.
//
// The first clause makes rules 1-8 of Decide unreachable except online: no round
// is down, every reach is 100 %, allowlisted canaries change nothing when the
// ordinary ones all answer. The second keeps flip detection for every rhythm whose
// on stretch is shorter than the window: such a network fails a pulse inside the
// window, the early stop is off, and the check runs its whole schedule.
const (
	// DefaultEarlyStopWindow is the least stretch of answered pulses an early stop
	// needs. 3.5 s is 14 pulses: any flip with an on stretch of up to 3.25 s (a
	// period of 6.5 s at half duty, the 1.5 s restorations of January 2022, an
	// uneven 3 s on / 4 s off) fails a pulse within it; the full schedule lasts
	// about 5.5 s on a fast network, so the window is about two thirds of it.
	DefaultEarlyStopWindow = 3500 * time.Millisecond
	// earlyStopPoll is how often the inter-round wait looks at the pulses.
	earlyStopPoll = 50 * time.Millisecond
)

// pulseWatch follows the pulses as they complete, for the early stop. Safe for
// concurrent use; a nil *pulseWatch watches nothing.
type pulseWatch struct {
	mu          sync.Mutex
	inFlight    int
	failed      bool
	first, last float64 // start times of the earliest and latest answered pulse
	answered    int
}

func (w *pulseWatch) started() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight++
}

func (w *pulseWatch) done(p Pulse) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight--
	if !p.OK {
		w.failed = true
		return
	}
	if w.answered == 0 || p.T < w.first {
		w.first = p.T
	}
	w.last = max(w.last, p.T)
	w.answered++
}

// clear reports whether the pulses allow an early stop: none failed, none is in
// flight, and the answered ones span at least window (PulseRunMin at least).
func (w *pulseWatch) clear(window time.Duration) bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.failed && w.inFlight == 0 && w.answered >= PulseRunMin &&
		w.last-w.first >= window.Seconds()-1e-9
}

// spoiled reports whether a pulse failed: no early stop for this check.
func (w *pulseWatch) spoiled() bool {
	if w == nil {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

// roundsAllUp reports whether every ordinary canary answered every protocol it is
// measured on at the first try in every round so far (the first clause of the
// early stop). At least one ordinary canary is needed.
func roundsAllUp(runs []*canaryRun) bool {
	ordinary := 0
	for _, r := range runs {
		if r.out.Class == ClassAllowlisted {
			continue
		}
		ordinary++
		if len(r.out.Rounds) == 0 {
			return false
		}
		for _, tallies := range r.out.Rounds {
			for _, p := range r.out.Protocols() {
				t, ok := tallies[p]
				if !ok || t.Attempts != 1 || t.OK != 1 {
					return false
				}
			}
		}
	}
	return ordinary > 0
}

// waitOrStop waits d before the next round, or less when the early stop's
// conditions come to hold meanwhile: it returns stop true then. err is ctx's when
// the wait was cut short.
func (m *Measurer) waitOrStop(ctx context.Context, d time.Duration, runs []*canaryRun, watch *pulseWatch, window time.Duration) (stop bool, err error) {
	if window <= 0 || watch.spoiled() || !roundsAllUp(runs) {
		return false, m.sleep(ctx, d)
	}
	// The wait is counted in slept steps, not read off the clock, so that a fake
	// sleep in tests ends it too.
	for left := d; ; left -= earlyStopPoll {
		if watch.clear(window) {
			return true, nil
		}
		if left <= 0 {
			return false, ctx.Err()
		}
		if watch.spoiled() {
			return false, m.sleep(ctx, left)
		}
		if err := m.sleep(ctx, min(left, earlyStopPoll)); err != nil {
			return false, err
		}
	}
}
