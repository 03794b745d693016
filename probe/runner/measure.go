// Package runner runs nettests over inputs and turns their test keys into
// measurements of the data format of package report.
package runner

import (
	"context"
	"runtime"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/report"
)

// SoftwareVersion is the software_version of every measurement; the build sets it.
var SoftwareVersion = devVersion

// Origin is what a measurement says about where it was taken (probe_cc, probe_asn,
// the network name, the resolver) and which addresses must never appear in it.
type Origin struct {
	ProbeCC          string // "" is written report.UnknownCC
	ProbeASN         string // "" is written report.UnknownASN
	ProbeNetworkName string
	ResolverIP       string
	ResolverASN      string
	// ASNs, when not nil, fills the AS of every DNS answer ([probe] asn_db).
	ASNs netx.ASNLookup
	// Scrub lists addresses (the probe's public IP, when some helper told it) that
	// must not appear anywhere in a stored measurement.
	Scrub []string
}

// Measure runs one measurer on one input and returns the measurement and its
// canonical bytes, for callers that measure once (tests, a nettest run alone). An
// error means the input was bad: network failures are inside the test keys.
func Measure(ctx context.Context, m nettests.Measurer, input string, o Origin, reportID string, now func() time.Time) (*report.Measurement, []byte, error) {
	meas, err := measureOnce(ctx, m, input, o, reportID, now)
	if err != nil {
		return nil, nil, err
	}
	b, err := report.Marshal(meas, o.Scrub...)
	if err != nil {
		return nil, nil, err
	}
	return meas, b, nil
}

// measureOnce runs m on input. The measurement is not marshalled: a run marshals
// it once, when it is final (save), with every address learnt by then scrubbed.
func measureOnce(ctx context.Context, m nettests.Measurer, input string, o Origin, reportID string, now func() time.Time) (*report.Measurement, error) {
	if now == nil {
		now = time.Now
	}
	start := now()
	trace := netx.NewTrace(start, now)
	if o.ASNs != nil {
		trace.SetASNLookup(o.ASNs)
	}
	keys, err := m.Run(ctx, input, trace)
	if err != nil {
		return nil, err
	}
	meas := newMeasurement(m, input, o, reportID, start)
	meas.TestKeys = keys
	meas.TestRuntime = now().Sub(start).Seconds()
	return meas, nil
}

// withUnknowns spells an unknown country and network as OONI does.
func (o Origin) withUnknowns() Origin {
	if o.ProbeCC == "" {
		o.ProbeCC = report.UnknownCC
	}
	if o.ProbeASN == "" {
		o.ProbeASN = report.UnknownASN
	}
	return o
}

// newReportID names the report of a run (or of a check) started at start.
func newReportID(start time.Time, testName string, o Origin) string {
	o = o.withUnknowns()
	return report.NewReportID(start, testName, o.ProbeCC, o.ProbeASN)
}

func newMeasurement(m nettests.Measurer, input string, id Origin, reportID string, start time.Time) *report.Measurement {
	id = id.withUnknowns()
	cc, asn := id.ProbeCC, id.ProbeASN
	var in *string
	if input != "" {
		in = &input
	}
	return &report.Measurement{
		Annotations: map[string]string{
			"architecture":   runtime.GOARCH,
			"platform":       runtime.GOOS,
			"engine_name":    report.SoftwareName,
			"engine_version": SoftwareVersion,
			"go_version":     runtime.Version(),
		},
		DataFormatVersion:    report.DataFormatVersion,
		Input:                in,
		MeasurementStartTime: report.FormatTime(start),
		MeasurementUID:       report.NewMeasurementUID(start, cc, m.Name()),
		Options:              []string{},
		ProbeASN:             asn,
		ProbeCC:              cc,
		ProbeIP:              report.ScrubbedIP,
		ProbeNetworkName:     id.ProbeNetworkName,
		ReportID:             reportID,
		ResolverASN:          id.ResolverASN,
		ResolverIP:           id.ResolverIP,
		SoftwareName:         report.SoftwareName,
		SoftwareVersion:      SoftwareVersion,
		TestHelpers:          map[string]any{},
		TestName:             m.Name(),
		TestStartTime:        report.FormatTime(start),
		TestVersion:          m.Version(),
	}
}
