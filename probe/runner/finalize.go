package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/history"
	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report"
)

// finalizeAll makes held URL results final and saves them. A non-empty reason
// (the network was down at the end, or its state is unknown) gates every URL
// verdict (nettests.GateURL): a failure seen while the network was down says
// nothing about the site, while a page that loaded did load.
func (s *state) finalizeAll(ctx context.Context, held []completed, reason string) error {
	for _, c := range held {
		if ur, ok := c.meas.TestKeys.(nettests.URLResult); ok {
			if v, _ := ur.URLVerdict(); nettests.GateURL(v, reason) != "" {
				ur.MarkInconclusive(reason)
			}
		}
		if sr, ok := c.meas.TestKeys.(nettests.ServiceResult); ok {
			if v, _ := sr.ServiceVerdict(); nettests.GateURL(v, reason) != "" {
				sr.MarkInconclusive(reason)
			}
		}
		if err := s.save(ctx, c.meas); err != nil {
			return err
		}
	}
	return nil
}

// save signs a measurement with the probe key, stores it (queued for upload when
// the run uploads) and reports it.
func (s *state) save(ctx context.Context, meas *report.Measurement) error {
	ctx, cancel := context.WithTimeout(ctx, saveTimeout)
	defer cancel()
	line, err := report.Marshal(meas, s.scrub()...)
	if err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	signed, err := report.Sign(s.r.Key, line)
	if err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	meta := store.MeasurementMeta{UID: meas.MeasurementUID, TestName: meas.TestName, StartTime: startTime(meas, s.r.Now)}
	if meas.Input != nil {
		meta.Input = *meas.Input
	}
	meta.Verdict, meta.Method = verdictOf(meas.TestKeys)
	if err := s.r.Store.SaveMeasurement(ctx, s.runID, signed, meta, s.r.Enqueue); err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	s.sum.add(meas)
	s.r.Observer.Saved(meas, line)
	return nil
}

// scrub lists the addresses to remove from every measurement: the probe's public
// addresses from geolocation, plus any a nettest learnt during the run (the
// control helper's x_client_ip, seen by web_connectivity).
func (s *state) scrub() []string {
	out := append([]string{}, s.r.Origin.Scrub...)
	if ips, ok := s.r.Measurer.(interface{ ClientIPs() []string }); ok {
		out = append(out, ips.ClientIPs()...)
	}
	return out
}

func verdictOf(keys any) (verdict, method string) {
	switch k := keys.(type) {
	case nettests.URLResult:
		return k.URLVerdict()
	case nettests.NetworkResult:
		return k.NetworkVerdict(), ""
	case nettests.ServiceResult:
		v, _ := k.ServiceVerdict()
		if m := k.ServiceMethods(); len(m) > 0 {
			return v, m[0]
		}
		return v, ""
	}
	return "", ""
}

func startTime(meas *report.Measurement, now func() time.Time) time.Time {
	t, err := time.Parse(report.TimeFormat, meas.MeasurementStartTime)
	if err != nil {
		return now()
	}
	return t.UTC()
}

// checkNetwork runs the connectivity test, feeds its verdict to the network status,
// saves it and keeps it in the connectivity history. It returns the verdict, ""
// when there is no connectivity test or it could not run.
func (s *state) checkNetwork(ctx context.Context, phase string) string {
	if s.r.Connectivity == nil {
		return ""
	}
	s.r.Observer.Phase(phase)
	meas, err := measureOnce(ctx, s.r.Connectivity, "", s.r.Origin, s.reportID, s.r.Now)
	if err != nil || ctx.Err() != nil {
		s.r.Logger.Warn("connectivity check did not complete", "phase", phase, "err", err, "interrupted", ctx.Err() != nil)
		return ""
	}
	nr, ok := meas.TestKeys.(nettests.NetworkResult)
	if !ok {
		s.r.Logger.Error("connectivity test returned no network verdict", "keys", fmt.Sprintf("%T", meas.TestKeys))
		return ""
	}
	verdict := nr.NetworkVerdict()
	if s.r.Network != nil {
		s.r.Network.Observe(nr)
	}
	s.r.Logger.Info("network verdict", "phase", phase, "verdict", verdict)
	if err := s.save(ctx, meas); err != nil {
		s.r.Logger.Error("cannot save the connectivity measurement", "err", err)
	}
	if err := history.Record(ctx, s.r.Store, meas, phase, s.r.NetworkKey); err != nil {
		s.r.Logger.Error("cannot keep the verdict in the connectivity history", "err", err)
	}
	return verdict
}
