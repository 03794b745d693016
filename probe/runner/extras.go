package runner

import (
	"context"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/report"
)

// Extra is one more nettest a run measures once, after its inputs and inside the
// same connectivity checks: the im and circumvention groups after the websites
// (`vantage run --group`). Its result is held and gated like a URL's: during a
// shutdown it is inconclusive, never blocked.
type Extra struct {
	Measurer nettests.Measurer
	// Skipped builds the keys of the nettest when the network is down before
	// it; nil measures it anyway.
	Skipped func(input, reason string) any
}

// measureExtras runs every extra nettest in turn (each bounds and parallelises
// its own endpoints) and returns their results, held for the after-check; with
// no after-check to wait for they are saved at once.
func (s *state) measureExtras(ctx context.Context) ([]completed, error) {
	var held []completed
	for _, x := range s.r.Extras {
		if ctx.Err() != nil {
			break
		}
		name := x.Measurer.Name()
		s.r.Observer.Phase(name)
		meas, err := measureOnce(ctx, x.Measurer, "", s.r.Origin, s.extraReportID(name), s.r.Now)
		s.r.Observer.Completed(name)
		if err != nil {
			s.r.Logger.Error("nettest could not run", "nettest", name, "err", err)
			continue
		}
		if ctx.Err() != nil {
			continue // cut short by the interrupt: its failures are not the network's
		}
		held = append(held, completed{meas: meas, at: s.r.Now()})
	}
	if s.r.Connectivity == nil {
		return nil, s.finalizeAll(context.WithoutCancel(ctx), held, "")
	}
	return held, nil
}

// skipExtras records every extra nettest as not measured, as skipAll does the
// inputs.
func (s *state) skipExtras(ctx context.Context, reason string) error {
	for _, x := range s.r.Extras {
		if x.Skipped == nil {
			continue
		}
		name := x.Measurer.Name()
		meas := newMeasurement(x.Measurer, "", s.r.Origin, s.extraReportID(name), s.r.Now())
		meas.TestKeys = x.Skipped("", reason)
		s.r.Observer.Completed(name)
		if err := s.save(context.WithoutCancel(ctx), meas); err != nil {
			return err
		}
	}
	return nil
}

// extraReportID is the report of one extra nettest in this run: OONI's report
// ids name one test each.
func (s *state) extraReportID(name string) string {
	if s.extraReports == nil {
		s.extraReports = map[string]string{}
	}
	id, ok := s.extraReports[name]
	if !ok {
		id = report.NewReportID(s.r.Now(), name, s.r.Origin.withUnknowns().ProbeCC, s.r.Origin.withUnknowns().ProbeASN)
		s.extraReports[name] = id
	}
	return id
}
