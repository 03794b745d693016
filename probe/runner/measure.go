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

// Identity is what a measurement says about where it was taken.
type Identity struct {
	ProbeCC          string // "ZZ" when unknown
	ProbeASN         string // "AS0" when unknown
	ProbeNetworkName string
	ResolverIP       string
	ResolverASN      string
	// Scrub lists addresses (the probe's public IP, when some helper told it) that
	// must not appear anywhere in a stored measurement.
	Scrub []string
}

// Measure runs one measurer on one input and returns the measurement and its
// canonical bytes. An error means the input was bad: network failures are inside
// the test keys.
func Measure(ctx context.Context, m nettests.Measurer, input string, id Identity, reportID string, now func() time.Time) (*report.Measurement, []byte, error) {
	if now == nil {
		now = time.Now
	}
	start := now()
	trace := netx.NewTrace(start, now)
	keys, err := m.Run(ctx, input, trace)
	if err != nil {
		return nil, nil, err
	}
	meas := newMeasurement(m, input, id, reportID, start)
	meas.TestKeys = keys
	meas.TestRuntime = now().Sub(start).Seconds()
	b, err := report.Marshal(meas, id.Scrub...)
	if err != nil {
		return nil, nil, err
	}
	return meas, b, nil
}

func newMeasurement(m nettests.Measurer, input string, id Identity, reportID string, start time.Time) *report.Measurement {
	cc, asn := id.ProbeCC, id.ProbeASN
	if cc == "" {
		cc = "ZZ"
	}
	if asn == "" {
		asn = "AS0"
	}
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
