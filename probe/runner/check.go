package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/history"
	"github.com/vantage-probe/vantage/report"
)

// Check is one network check on its own (`vantage check`): the connectivity test
// a run makes before and after its inputs, with the same origin, report id and
// history record, but no input, no lock and no stored measurement.
type Check struct {
	Connectivity nettests.Measurer
	Origin       Origin
	NetworkKey   string
	// History keeps the verdict; nil: not kept.
	History history.Writer
	Now     func() time.Time
}

// CheckResult is what a check saw.
type CheckResult struct {
	Measurement *report.Measurement
	Line        []byte // the canonical measurement
	// HistoryErr is why the verdict was not kept; the verdict stands anyway.
	HistoryErr error
}

// Run measures the network once and keeps the verdict in the history. A check
// cut short by ctx is an error: attempts cut short would read as failures, so such
// a check is neither a verdict nor kept.
func (c *Check) Run(ctx context.Context) (*CheckResult, error) {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	reportID := newReportID(now(), c.Connectivity.Name(), c.Origin)
	meas, line, err := Measure(ctx, c.Connectivity, "", c.Origin, reportID, now)
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("check: interrupted: %w", ctx.Err())
	}
	if _, ok := meas.TestKeys.(nettests.NetworkResult); !ok {
		return nil, fmt.Errorf("check: %s returned %T, not a network verdict", c.Connectivity.Name(), meas.TestKeys)
	}
	res := &CheckResult{Measurement: meas, Line: line}
	if c.History != nil {
		res.HistoryErr = history.Record(ctx, c.History, meas, history.PhaseCheck, c.NetworkKey)
	}
	return res, nil
}
