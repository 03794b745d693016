package connectivity

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
)

// pulseSeries builds pulses every 250 ms over seconds, ok(t) saying which answered.
func pulseSeries(seconds float64, ok func(t float64) bool) []Pulse {
	var out []Pulse
	for i := 0; float64(i)*0.25 <= seconds; i++ {
		t := float64(i) * 0.25
		out = append(out, Pulse{T: t, Canary: fmt.Sprintf("c%d", i%4), OK: ok(t)})
	}
	return out
}

// steadyCanaries: every round up, as when each of the three rounds fell in an on
// window.
func steadyCanaries() []CanaryOutcome {
	up3 := []map[string]Tally{upRound(), upRound(), upRound()}
	return join(set("d", ClassDomestic, 2, up3...), set("f", ClassForeign, 2, up3...))
}

func TestDecidePulses(t *testing.T) {
	down3 := []map[string]Tally{downRound(), downRound(), downRound()}
	shutdown := join(set("d", ClassDomestic, 2, down3...), set("f", ClassForeign, 2, down3...))
	for _, tc := range []struct {
		name     string
		canaries []CanaryOutcome
		pulses   []Pulse
		want     string
	}{
		{"rounds up, pulses see a 2 s off window", steadyCanaries(), pulseSeries(8, func(t float64) bool { return t < 3 || t >= 5 }), nettests.NetworkPartialShutdown},
		{"rounds up, pulses all answer", steadyCanaries(), pulseSeries(8, func(float64) bool { return true }), nettests.NetworkOnline},
		{"rounds up, no pulses", steadyCanaries(), nil, nettests.NetworkOnline},
		{"four failures in a row are not a run", steadyCanaries(), pulseSeries(8, func(t float64) bool { return t < 3 || t > 3.8 }), nettests.NetworkOnline},
		{"rounds down, pulses all fail", shutdown, pulseSeries(8, func(float64) bool { return false }), nettests.NetworkFullShutdown},
		{"rounds down, pulses see an on window between them", shutdown, pulseSeries(8, func(t float64) bool { return t >= 2 && t < 4 }), nettests.NetworkPartialShutdown},
		{"on window too short to be a run", shutdown, pulseSeries(8, func(t float64) bool { return t >= 2 && t < 2.9 }), nettests.NetworkFullShutdown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Decide(Evidence{Local: healthyLocal, Canaries: tc.canaries, Rounds: 3, Pulses: tc.pulses})
			if a.Verdict != tc.want {
				t.Errorf("verdict %s (%s), want %s", a.Verdict, a.Reason, tc.want)
			}
			if tc.want == nettests.NetworkPartialShutdown && a.Reason != ReasonFlapping {
				t.Errorf("reason %s, want %s", a.Reason, ReasonFlapping)
			}
		})
	}
}

// TestDecidePulsesShortRunSpan: five failures 100 ms apart span less than a second.
func TestDecidePulsesShortRunSpan(t *testing.T) {
	var ps []Pulse
	for i := 0; i < 40; i++ {
		tt := float64(i) * 0.1
		ps = append(ps, Pulse{T: tt, OK: !(i >= 10 && i < 15)})
	}
	if hasRun(ps, false) {
		t.Fatalf("a 0.4 s burst of five failures counted as a down run")
	}
	ps[15].OK = false // six failures over 0.5 s: still short
	if hasRun(ps, false) {
		t.Fatalf("a 0.5 s burst counted as a down run")
	}
	for i := 15; i < 21; i++ { // eleven failures over 1 s
		ps[i].OK = false
	}
	if !hasRun(ps, false) {
		t.Fatalf("eleven failures over a second not counted as a down run")
	}
}

// TestDecidePulsesRandomLoss: random per-packet loss of 1, 3 and 5 % (a pulse fails
// when its SYN or its SYN-ACK is lost) on a network that is up never reads as a
// flip, over 50 seeds of a 20 s check (81 pulses).
func TestDecidePulsesRandomLoss(t *testing.T) {
	for _, loss := range []float64{0.01, 0.03, 0.05} {
		fail := 1 - (1-loss)*(1-loss)
		for seed := uint64(1); seed <= 50; seed++ {
			rng := rand.New(rand.NewPCG(seed, 13))
			ps := pulseSeries(20, func(float64) bool { return rng.Float64() >= fail })
			if a := Decide(Evidence{Local: healthyLocal, Canaries: steadyCanaries(), Rounds: 3, Pulses: ps}); a.Verdict != nettests.NetworkOnline {
				t.Errorf("loss %.0f %%, seed %d: verdict %s (%s), want online", loss*100, seed, a.Verdict, a.Reason)
			}
		}
	}
}

// TestDecidePulsesFlipPeriods: a network flipping on and off with periods from 4 to
// 60 s (half on, half off), seen by checks of 6 s and 20 s at every phase in
// 250 ms steps, while the three rounds all fell in on windows. Whenever the check's
// window holds an on and an off stretch of at least 1.5 s each, the verdict is
// partial_shutdown; when it holds only on, online.
func TestDecidePulsesFlipPeriods(t *testing.T) {
	for _, period := range []float64{4, 6, 10, 20, 30, 60} {
		for _, length := range []float64{6, 20} {
			for phase := 0.0; phase < period; phase += 0.25 {
				on := func(t float64) bool { return mod(t+phase, period) < period/2 }
				longestOn, longestOff := longestStretches(on, length)
				a := Decide(Evidence{Local: healthyLocal, Canaries: steadyCanaries(), Rounds: 3, Pulses: pulseSeries(length, on)})
				switch {
				case longestOn >= 1.5 && longestOff >= 1.5:
					if a.Verdict != nettests.NetworkPartialShutdown {
						t.Errorf("period %gs, check %gs, phase %gs: verdict %s, want partial_shutdown (on %.2fs, off %.2fs)", period, length, phase, a.Verdict, longestOn, longestOff)
					}
				case longestOff == 0:
					if a.Verdict != nettests.NetworkOnline {
						t.Errorf("period %gs, check %gs, phase %gs: verdict %s in an on window, want online", period, length, phase, a.Verdict)
					}
				}
			}
		}
	}
}

func mod(a, b float64) float64 {
	r := a - b*float64(int(a/b))
	if r < 0 {
		r += b
	}
	return r
}

// longestStretches measures, in 10 ms steps, the longest on and off stretches
// within [0, length].
func longestStretches(on func(float64) bool, length float64) (float64, float64) {
	var bestOn, bestOff, run float64
	prev := on(0)
	step := (10 * time.Millisecond).Seconds()
	for t := 0.0; t <= length+1e-9; t += step {
		if s := on(t); s != prev {
			prev, run = s, 0
		}
		run += step
		if prev {
			bestOn = max(bestOn, run)
		} else {
			bestOff = max(bestOff, run)
		}
	}
	if bestOff < step {
		bestOff = 0
	}
	return bestOn, bestOff
}
