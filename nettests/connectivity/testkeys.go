package connectivity

import (
	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
)

// TestKeys are the connectivity test's test_keys: the verdict, the figures it was
// decided from (ratios per class and protocol, per-round reach, exclusions), the local
// checks, each canary's rounds, timings and throughput, and the network events.
type TestKeys struct {
	netx.Events
	Analysis
	Local      LocalChecks     `json:"local"`
	Canaries   []CanaryOutcome `json:"canaries"`
	Throughput *Throughput     `json:"throughput"`
	// RoundStarts are the seconds since the measurement start of each round.
	RoundStarts []float64 `json:"round_starts"`
	// Pulses are the reachability samples taken across the whole check.
	Pulses []Pulse `json:"pulses"`
	// Timings are the median seconds of successful attempts per class and protocol.
	Timings map[string]map[string]float64 `json:"timings"`
	Params  Params                        `json:"params"`
	// Duration is the check's wall time in seconds.
	Duration float64  `json:"duration"`
	Notes    []string `json:"notes"`
}

// Params records how the check was run.
type Params struct {
	Rounds         int     `json:"rounds"`
	Attempts       int     `json:"attempts"`
	RoundSpacing   float64 `json:"round_spacing"`
	AttemptTimeout float64 `json:"attempt_timeout"`
	// EarlyStopWindow is the least stretch of answered pulses an early stop needs
	// (seconds; 0: early stop off); EarlyStop says whether this check stopped
	// early (fewer rounds than Rounds, every one all up).
	EarlyStopWindow float64 `json:"early_stop_window"`
	EarlyStop       bool    `json:"early_stop"`
}

var _ nettests.NetworkResult = (*TestKeys)(nil)

// NetworkVerdict implements nettests.NetworkResult.
func (tk *TestKeys) NetworkVerdict() string { return tk.Verdict }

func newTestKeys(trace *netx.Trace, local LocalChecks, runs []*canaryRun, starts []float64, pulses []Pulse, tp *Throughput, cfg Config) *TestKeys {
	outcomes := make([]CanaryOutcome, len(runs))
	for i, r := range runs {
		outcomes[i] = r.out
	}
	tk := &TestKeys{
		Events:      trace.Events(),
		Analysis:    Decide(Evidence{Local: local, Canaries: outcomes, Rounds: len(starts), Pulses: pulses, Throughput: tp}),
		Local:       local,
		Canaries:    outcomes,
		Throughput:  tp,
		RoundStarts: starts,
		Pulses:      orEmpty(pulses),
		Timings:     timings(runs),
		Params: Params{
			Rounds: cfg.Rounds, Attempts: cfg.Attempts,
			RoundSpacing: cfg.RoundSpacing.Seconds(), AttemptTimeout: cfg.AttemptTimeout.Seconds(),
			EarlyStopWindow: max(cfg.EarlyStopWindow, 0).Seconds(),
		},
		Notes: []string{},
	}
	return tk
}

func timings(runs []*canaryRun) map[string]map[string]float64 {
	all := map[string]map[string][]float64{}
	for _, r := range runs {
		if all[r.out.Class] == nil {
			all[r.out.Class] = map[string][]float64{}
		}
		for p, d := range r.durations {
			all[r.out.Class][p] = append(all[r.out.Class][p], d...)
		}
	}
	out := map[string]map[string]float64{}
	for class, byProto := range all {
		out[class] = map[string]float64{}
		for p, ds := range byProto {
			if len(ds) > 0 {
				out[class][p] = median(ds)
			}
		}
	}
	return out
}

func orEmpty(ps []Pulse) []Pulse {
	if ps == nil {
		return []Pulse{}
	}
	return ps
}
