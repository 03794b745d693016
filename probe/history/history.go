// Package history keeps the network verdicts a probe saw, in one shape for the
// checks around `vantage run` and for `vantage check`, and reads them back for the
// `check --history` timeline.
package history

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/connectivity"
	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report"
)

// Phases of a kept verdict: which check produced it.
const (
	PhaseBefore = "connectivity_before" // the check before a run's inputs
	PhaseAfter  = "connectivity_after"  // the check after them
	PhaseCheck  = "check"               // `vantage check`
)

// Evidence is what the history keeps of a check beside its verdict: enough to
// explain a window of the timeline without the whole measurement.
type Evidence struct {
	MeasurementUID string                                   `json:"measurement_uid"`
	Phase          string                                   `json:"phase"`
	Reason         string                                   `json:"reason"`
	Ratios         map[string]map[string]connectivity.Tally `json:"ratios"`
	Reach          []map[string]connectivity.Tally          `json:"reach"`
	FirstHopAlive  bool                                     `json:"first_hop_alive"`
	Resolver       bool                                     `json:"resolver_answered"`
	MedianKbps     *float64                                 `json:"median_kbps,omitempty"`
}

// Entry is one kept verdict.
type Entry struct {
	Time       time.Time
	ProbeCC    string
	ProbeASN   string
	NetworkKey string
	Verdict    string
	Evidence   Evidence
}

// Writer is where verdicts are kept; *store.Store implements it.
type Writer interface {
	AddConnectivity(ctx context.Context, r store.ConnectivityRecord) error
}

// Reader reads kept verdicts back; *store.Store implements it.
type Reader interface {
	ConnectivityHistory(ctx context.Context, since time.Time) ([]store.ConnectivityRecord, error)
}

var (
	_ Writer = (*store.Store)(nil)
	_ Reader = (*store.Store)(nil)
)

// Record keeps the verdict of a connectivity measurement, taken in phase on the
// network networkKey ("" when it cannot be told). It is the only writer of the
// history. The measurement's test keys must carry a network verdict.
func Record(ctx context.Context, w Writer, meas *report.Measurement, phase, networkKey string) error {
	nr, ok := meas.TestKeys.(nettests.NetworkResult)
	if !ok {
		return fmt.Errorf("history: %T carries no network verdict", meas.TestKeys)
	}
	ev := Evidence{MeasurementUID: meas.MeasurementUID, Phase: phase}
	if tk, ok := meas.TestKeys.(*connectivity.TestKeys); ok {
		ev.Reason, ev.Ratios, ev.Reach = tk.Reason, tk.Ratios, tk.Reach
		ev.FirstHopAlive, ev.Resolver = tk.Local.FirstHopAlive(), tk.Local.Resolver.Answered
		if tk.Throughput != nil {
			ev.MedianKbps = tk.Throughput.MedianKbps
		}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("history: evidence: %w", err)
	}
	start, err := time.Parse(report.TimeFormat, meas.MeasurementStartTime)
	if err != nil {
		return fmt.Errorf("history: measurement_start_time: %w", err)
	}
	return w.AddConnectivity(ctx, store.ConnectivityRecord{Time: start.UTC(), ProbeCC: meas.ProbeCC,
		ProbeASN: meas.ProbeASN, NetworkKey: networkKey, Verdict: nr.NetworkVerdict(), Evidence: b})
}

// Read returns the verdicts kept at or after since, oldest first. A record whose
// evidence does not parse (written by an older version) keeps its verdict with
// empty evidence.
func Read(ctx context.Context, r Reader, since time.Time) ([]Entry, error) {
	recs, err := r.ConnectivityHistory(ctx, since)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	out := make([]Entry, len(recs))
	for i, rec := range recs {
		out[i] = Entry{Time: rec.Time, ProbeCC: rec.ProbeCC, ProbeASN: rec.ProbeASN, NetworkKey: rec.NetworkKey, Verdict: rec.Verdict}
		_ = json.Unmarshal(rec.Evidence, &out[i].Evidence)
	}
	return out, nil
}

// Points turns entries into the points of a timeline.
func Points(entries []Entry) []Point {
	out := make([]Point, len(entries))
	for i, e := range entries {
		out[i] = Point{Time: e.Time, Verdict: e.Verdict}
	}
	return out
}
