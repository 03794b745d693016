package runner

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"time"

	"github.com/vantage-probe/vantage/nettests/collectorreach"
	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/upload"
)

// Reachability records upload routes that failed the way a blocked path fails
// as collector_reachability measurements: signed, stored and queued like any
// other, so they leave with the next batch over the first route that works.
// Record is upload.Client.OnRouteFailure.
type Reachability struct {
	Store  Store
	Key    ed25519.PrivateKey
	Origin Origin
	Now    func() time.Time // nil: time.Now
	// Logf, when set, is told about measurements that could not be saved.
	Logf func(format string, args ...any)

	mu    sync.Mutex
	runID int64 // begun at the first failure
	saved []*report.Measurement
}

// Record saves one measurement for f. A failure to save is logged, never fatal:
// the upload it describes goes on.
func (r *Reachability) Record(ctx context.Context, f upload.Failure) {
	if err := r.record(ctx, f); err != nil && r.Logf != nil {
		r.Logf("upload: recording the failed route %s: %v", f.Route, err)
	}
}

func (r *Reachability) record(ctx context.Context, f upload.Failure) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	now := r.Now
	if now == nil {
		now = time.Now
	}
	if r.runID == 0 {
		o := r.Origin.withUnknowns()
		id, err := r.Store.BeginRun(ctx, store.RunInfo{TestName: collectorreach.Name, StartTime: now(),
			ProbeCC: o.ProbeCC, ProbeASN: o.ProbeASN, NetworkName: o.ProbeNetworkName})
		if err != nil {
			return err
		}
		r.runID = id
	}
	m := collectorreach.Measurer{Failure: f}
	reportID := newReportID(now(), m.Name(), r.Origin)
	meas, line, err := Measure(ctx, m, f.Route.URL, r.Origin, reportID, now)
	if err != nil {
		return err
	}
	signed, err := report.Sign(r.Key, line)
	if err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	meta := store.MeasurementMeta{UID: meas.MeasurementUID, TestName: meas.TestName, Input: f.Route.URL, StartTime: startTime(meas, now)}
	if tk, ok := meas.TestKeys.(*collectorreach.TestKeys); ok && tk.Method != nil {
		meta.Method = *tk.Method
	}
	if err := r.Store.SaveMeasurement(ctx, r.runID, signed, meta, true); err != nil {
		return err
	}
	r.saved = append(r.saved, meas)
	return nil
}

// Saved returns the measurements recorded so far.
func (r *Reachability) Saved() []*report.Measurement {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*report.Measurement(nil), r.saved...)
}

// Finish closes the run the measurements belong to, if one was begun.
func (r *Reachability) Finish(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.runID == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	return r.Store.FinishRun(ctx, r.runID, nil)
}
