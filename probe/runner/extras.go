package runner

import (
	"context"
	"sync"

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
	// Refresh, when set, builds the nettest again on a fresher target list (the
	// collector's); it is asked when the network is up before, like the runner's
	// Refresh. On an error (unreachable, or a list that does not parse) the
	// Measurer built on the embedded list stays, and the log says why.
	Refresh func(ctx context.Context) (nettests.Measurer, error)
}

// refreshExtras swaps in the extra nettests built on fresher target lists. They
// are asked at once: a collector that does not answer costs one fetch timeout,
// not one per nettest.
func (s *state) refreshExtras(ctx context.Context) {
	fresh := make([]nettests.Measurer, len(s.r.Extras))
	errs := make([]error, len(s.r.Extras))
	var wg sync.WaitGroup
	for i, x := range s.r.Extras {
		if x.Refresh == nil {
			continue
		}
		wg.Go(func() { fresh[i], errs[i] = x.Refresh(ctx) })
	}
	wg.Wait()
	for i, x := range s.r.Extras {
		switch {
		case errs[i] != nil:
			s.r.Logger.Info("keeping the embedded target list", "nettest", x.Measurer.Name(), "err", errs[i])
		case fresh[i] != nil:
			s.r.Extras[i].Measurer = fresh[i]
		}
	}
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
