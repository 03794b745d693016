package connectivity

import (
	"context"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
)

// allUpRuns is one round in which every canary answered every protocol at once.
func allUpRuns(t *testing.T) []*canaryRun {
	t.Helper()
	cs, err := ParseCanarySets([]string{"https://shop.kz/", "10.1.0.1:443"}, []string{"https://egov.kz/"}, []string{"10.2.0.1:443"})
	if err != nil {
		t.Fatal(err)
	}
	runs := newCanaryRuns(cs)
	for _, r := range runs {
		round := map[string]Tally{}
		for _, p := range r.out.Protocols() {
			round[p] = Tally{OK: 1, Attempts: 1}
		}
		r.out.Rounds = append(r.out.Rounds, round)
	}
	return runs
}

func TestRoundsAllUp(t *testing.T) {
	if !roundsAllUp(allUpRuns(t)) {
		t.Fatal("every protocol of every canary answered at once: all up")
	}
	cases := map[string]func(runs []*canaryRun){
		"a retry was needed (loss)": func(runs []*canaryRun) { runs[1].out.Rounds[0][ProtoTCP] = Tally{OK: 1, Attempts: 2} },
		"a transport failed":        func(runs []*canaryRun) { runs[3].out.Rounds[0][ProtoTLS] = Tally{OK: 0, Attempts: 2} },
		"a transport not probed (a gap)": func(runs []*canaryRun) {
			delete(runs[3].out.Rounds[0], ProtoQUIC)
		},
		"DNS failed": func(runs []*canaryRun) { runs[0].out.Rounds[0][ProtoDNS] = Tally{OK: 0, Attempts: 1} },
		"a later round lost an attempt": func(runs []*canaryRun) {
			for _, r := range runs {
				r.out.Rounds = append(r.out.Rounds, r.out.Rounds[0])
			}
			second := map[string]Tally{}
			for k, v := range runs[0].out.Rounds[0] {
				second[k] = v
			}
			second[ProtoQUIC] = Tally{OK: 0, Attempts: 2}
			runs[0].out.Rounds[1] = second
		},
		"a canary not yet measured": func(runs []*canaryRun) { runs[3].out.Rounds = nil },
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			runs := allUpRuns(t)
			spoil(runs)
			if roundsAllUp(runs) {
				t.Fatal("all up")
			}
		})
	}
	t.Run("an allowlisted canary dark changes nothing", func(t *testing.T) {
		runs := allUpRuns(t)
		for p := range runs[2].out.Rounds[0] {
			runs[2].out.Rounds[0][p] = Tally{OK: 0, Attempts: 2}
		}
		if runs[2].out.Class != ClassAllowlisted || !roundsAllUp(runs) {
			t.Fatal("the allowlisted canary must not stop the early stop")
		}
	})
	t.Run("no ordinary canary", func(t *testing.T) {
		if roundsAllUp(allUpRuns(t)[2:3]) {
			t.Fatal("allowlisted canaries alone may not stop a check early")
		}
	})
}

func TestPulseWatch(t *testing.T) {
	window := time.Second
	feed := func(w *pulseWatch, oks ...bool) {
		for i, ok := range oks {
			w.started()
			w.done(Pulse{T: float64(i) * 0.25, OK: ok})
		}
	}
	w := &pulseWatch{}
	feed(w, true, true, true, true) // 0 .. 0.75 s
	if w.clear(window) {
		t.Fatal("0.75 s of pulses cleared a 1 s window")
	}
	feed(w, true, true, true, true, true) // up to 1.0 s
	if !w.clear(window) {
		t.Fatal("1 s of answered pulses did not clear a 1 s window")
	}
	w.started()
	if w.clear(window) {
		t.Fatal("cleared with a pulse in flight")
	}
	w.done(Pulse{T: 1.25, OK: false})
	if w.clear(window) || !w.spoiled() {
		t.Fatal("a failed pulse must spoil the early stop for good")
	}
	feed(w, true, true, true, true, true, true, true, true)
	if w.clear(window) {
		t.Fatal("answered pulses after a failure cleared the window")
	}
	var none *pulseWatch
	if none.clear(window) || !none.spoiled() {
		t.Fatal("no pulses: no early stop")
	}
	few := &pulseWatch{}
	few.started()
	few.done(Pulse{T: 0, OK: true})
	few.started()
	few.done(Pulse{T: 2, OK: true})
	if few.clear(window) {
		t.Fatal("two pulses cleared the window: PulseRunMin are needed")
	}
}

func TestWaitOrStop(t *testing.T) {
	cleared := &pulseWatch{}
	for i := range 8 {
		cleared.started()
		cleared.done(Pulse{T: float64(i) * 0.25, OK: true})
	}
	spoiled := &pulseWatch{}
	spoiled.started()
	spoiled.done(Pulse{OK: false})
	pending := &pulseWatch{}
	cases := []struct {
		name      string
		runs      []*canaryRun
		watch     *pulseWatch
		window    time.Duration
		stop      bool
		slept     time.Duration
		sleepsMin int
	}{
		{"all up and cleared: stop at once", allUpRuns(t), cleared, time.Second, true, 0, 0},
		{"early stop off", allUpRuns(t), cleared, 0, false, 2 * time.Second, 1},
		{"a pulse failed: the whole spacing", allUpRuns(t), spoiled, time.Second, false, 2 * time.Second, 1},
		{"window not covered: waits the spacing out in steps", allUpRuns(t), pending, time.Second, false, 2 * time.Second, 2},
		{"a round was not all up", func() []*canaryRun {
			r := allUpRuns(t)
			r[0].out.Rounds[0][ProtoTCP] = Tally{OK: 1, Attempts: 2}
			return r
		}(), cleared, time.Second, false, 2 * time.Second, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sl := &sleepRecorder{}
			m := newMeasurer(options{Sleep: sl.sleep})
			stop, err := m.waitOrStop(context.Background(), 2*time.Second, c.runs, c.watch, c.window)
			if err != nil || stop != c.stop {
				t.Fatalf("stop %v err %v, want stop %v", stop, err, c.stop)
			}
			var total time.Duration
			for _, d := range sl.waits {
				total += d
			}
			if total != c.slept || len(sl.waits) < c.sleepsMin {
				t.Fatalf("slept %v in %d waits, want %v in at least %d", total, len(sl.waits), c.slept, c.sleepsMin)
			}
		})
	}
}

// TestRunStopsEarly runs whole checks on the fake network with a real clock, a
// short spacing and a short window: all up stops before the last round and says
// so; loss on one canary runs every round.
func TestRunStopsEarly(t *testing.T) {
	run := func(t *testing.T, f *fakeNet) *TestKeys {
		m := newMeasurer(options{Canaries: labCanaries(t), primitives: f.probes(), System: fakeSystem(routeWithDefault, "", eth0), Resolver: "system",
			Config: Config{NoThroughput: true, RoundSpacing: 400 * time.Millisecond, PulseInterval: 20 * time.Millisecond, EarlyStopWindow: 200 * time.Millisecond}})
		keys, err := m.Run(context.Background(), "", netx.NewTrace(time.Now(), nil))
		if err != nil {
			t.Fatal(err)
		}
		return keys.(*TestKeys)
	}
	t.Run("all up", func(t *testing.T) {
		tk := run(t, healthyNet())
		if tk.Verdict != nettests.NetworkOnline || !tk.Params.EarlyStop || len(tk.RoundStarts) >= DefaultRounds {
			t.Fatalf("verdict %s early %v rounds %d", tk.Verdict, tk.Params.EarlyStop, len(tk.RoundStarts))
		}
		if tk.Params.EarlyStopWindow != 0.2 {
			t.Fatalf("early_stop_window %v", tk.Params.EarlyStopWindow)
		}
	})
	t.Run("a foreign canary without QUIC", func(t *testing.T) {
		f := healthyNet()
		f.quic["10.2.0.3:443"] = false
		tk := run(t, f)
		if tk.Params.EarlyStop || len(tk.RoundStarts) != DefaultRounds {
			t.Fatalf("early %v rounds %d: a failed protocol must keep the whole schedule", tk.Params.EarlyStop, len(tk.RoundStarts))
		}
	})
}
