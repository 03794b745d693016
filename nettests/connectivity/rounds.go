package connectivity

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vantage-probe/vantage/probe/netx"
)

// canaryRun is one canary's state across the rounds; only the goroutine measuring
// the canary in a round touches it.
type canaryRun struct {
	out CanaryOutcome
	// addr is the address transports are probed on: the literal, or the last
	// address DNS gave (kept when a later lookup fails, so that IP-level
	// reachability is still measured).
	addr        string
	durations   map[string][]float64
	dnsAnswered bool
	// gaps are transports this canary does not serve: they failed every attempt
	// of a round in which another transport of the canary answered. Later rounds
	// skip them, so that a canary without QUIC does not cost every round a full
	// timeout; the first round's failures stay in the tallies.
	gaps map[string]bool
	// learn, when set, is told each address the canary is probed on (the pulses
	// follow it).
	learn func(addr string)
}

func newCanaryRuns(cs []Canary) []*canaryRun {
	runs := make([]*canaryRun, len(cs))
	for i, c := range cs {
		runs[i] = &canaryRun{
			out:       CanaryOutcome{Canary: c, Rounds: []map[string]Tally{}, Failures: map[string]string{}},
			addr:      c.Address,
			durations: map[string][]float64{},
			gaps:      map[string]bool{},
		}
	}
	return runs
}

// runRounds measures every canary in each round, rounds spaced by RoundSpacing. It
// returns the start time of each round, in seconds since the trace's zero, and
// whether the rounds stopped early (earlystop.go: watch follows the pulses, window
// is the least stretch they must cover; zero turns the early stop off).
func (m *Measurer) runRounds(ctx context.Context, trace *netx.Trace, runs []*canaryRun, rounds, attempts int, spacing time.Duration, watch *pulseWatch, window time.Duration) ([]float64, bool) {
	starts := []float64{}
	for r := 0; r < rounds; r++ {
		if r > 0 {
			stop, err := m.waitOrStop(ctx, spacing, runs, watch, window)
			if stop {
				return starts, true
			}
			if err != nil {
				break
			}
		}
		if ctx.Err() != nil {
			break
		}
		starts = append(starts, trace.Elapsed())
		m.runRound(ctx, trace, runs, attempts)
	}
	return starts, false
}

// runRound measures all canaries at once, at most Parallelism at a time.
func (m *Measurer) runRound(ctx context.Context, trace *netx.Trace, runs []*canaryRun, attempts int) {
	var g errgroup.Group
	g.SetLimit(m.cfg.Parallelism)
	for _, run := range runs {
		g.Go(func() error {
			run.out.Rounds = append(run.out.Rounds, m.measureCanary(ctx, trace, run, attempts))
			return nil
		})
	}
	g.Wait()
}

// measureCanary resolves a host canary, then probes its transports concurrently.
func (m *Measurer) measureCanary(ctx context.Context, trace *netx.Trace, run *canaryRun, attempts int) map[string]Tally {
	tallies := map[string]Tally{}
	if !run.out.IsLiteral() {
		tallies[ProtoDNS] = m.resolve(ctx, trace, run)
	}
	if run.addr == "" {
		return tallies
	}
	type result struct {
		proto string
		tally Tally
		durs  []float64
		fail  string
	}
	results := make([]result, len(run.out.Transports()))
	var wg sync.WaitGroup
	for i, proto := range run.out.Transports() {
		if run.gaps[proto] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t, durs, fail := m.probeWithRetries(ctx, trace, proto, run.addr, run.out.Canary, attempts)
			results[i] = result{proto, t, durs, fail}
		}()
	}
	wg.Wait()
	for _, res := range results {
		if res.proto == "" {
			continue
		}
		tallies[res.proto] = res.tally
		run.durations[res.proto] = append(run.durations[res.proto], res.durs...)
		if res.fail != "" {
			run.out.Failures[res.proto] = res.fail
		}
	}
	markGaps(run, tallies)
	return tallies
}

// markGaps records the transports that failed outright while another answered.
func markGaps(run *canaryRun, tallies map[string]Tally) {
	answered := false
	for _, p := range transportProtos {
		answered = answered || tallies[p].OK > 0
	}
	if !answered {
		return
	}
	for _, p := range transportProtos {
		if t, ok := tallies[p]; ok && t.Attempts > 0 && t.OK == 0 {
			run.gaps[p] = true
		}
	}
}

// resolve looks the canary's host up once per round. DNSAttempts is one: the
// resolver retries on its own, and DNS is evidence here, not the verdict.
func (m *Measurer) resolve(ctx context.Context, trace *netx.Trace, run *canaryRun) Tally {
	actx, cancel := context.WithTimeout(ctx, m.cfg.AttemptTimeout)
	defer cancel()
	start := m.now()
	addrs, err := m.probes.Lookup(actx, trace, run.out.Host)
	run.dnsAnswered = run.dnsAnswered || err == nil || dnsAnswered(err)
	if err != nil {
		run.out.Failures[ProtoDNS] = failureString(err)
		return Tally{Attempts: 1}
	}
	addr := pickAddress(addrs)
	if addr == "" {
		run.out.Failures[ProtoDNS] = netx.FailureDNSNoAnswer
		return Tally{Attempts: 1}
	}
	run.durations[ProtoDNS] = append(run.durations[ProtoDNS], m.now().Sub(start).Seconds())
	if run.out.Addrs == nil {
		run.out.Addrs = addrs
	}
	run.addr = joinHostPort(addr, run.out.Port)
	if run.learn != nil {
		run.learn(run.addr)
	}
	return Tally{OK: 1, Attempts: 1}
}

// probeWithRetries tries proto up to attempts times, RetryDelay apart, stopping at
// the first success. Every try is counted: under random loss the share of
// successful tries estimates the loss rate whatever the stopping rule.
func (m *Measurer) probeWithRetries(ctx context.Context, trace *netx.Trace, proto, addr string, c Canary, attempts int) (Tally, []float64, string) {
	var t Tally
	var durs []float64
	lastFailure := ""
	for i := 0; i < attempts && ctx.Err() == nil; i++ {
		if i > 0 && m.sleep(ctx, m.cfg.RetryDelay) != nil {
			break
		}
		actx, cancel := context.WithTimeout(ctx, m.cfg.AttemptTimeout)
		start := m.now()
		ok, err := m.probes.attempt(actx, trace, proto, addr, c)
		cancel()
		t.Attempts++
		if ok {
			t.OK++
			durs = append(durs, m.now().Sub(start).Seconds())
			return t, durs, ""
		}
		lastFailure = failureString(err)
	}
	return t, durs, lastFailure
}
