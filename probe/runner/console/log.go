package console

import (
	"log/slog"

	"github.com/vantage-probe/vantage/probe/runner"
	"github.com/vantage-probe/vantage/report"
)

// Log is a runner.Observer for unattended runs: one structured record per phase
// and per saved measurement.
type Log struct{ Logger *slog.Logger }

var _ runner.Observer = Log{}

// Phase implements runner.Observer.
func (l Log) Phase(name string) { l.Logger.Info("phase", "phase", name) }

// Planned implements runner.Observer.
func (l Log) Planned(n int) { l.Logger.Info("planned", "inputs", n) }

// Completed implements runner.Observer.
func (Log) Completed(string) {}

// Saved implements runner.Observer.
func (l Log) Saved(m *report.Measurement, _ []byte) {
	attrs := []any{"measurement_uid", m.MeasurementUID, "test_name", m.TestName}
	if m.Input != nil {
		attrs = append(attrs, "input", *m.Input)
	}
	if v, ok := m.TestKeys.(interface{ URLVerdict() (string, string) }); ok {
		verdict, method := v.URLVerdict()
		attrs = append(attrs, "verdict", verdict, "method", method)
	} else if v, ok := m.TestKeys.(interface{ NetworkVerdict() string }); ok {
		attrs = append(attrs, "verdict", v.NetworkVerdict())
	}
	l.Logger.Info("measurement saved", attrs...)
}

// LogSummary writes the run's summary as one record.
func LogSummary(l *slog.Logger, s *runner.Summary) {
	l.Info("run finished", "run_id", s.RunID, "network_verdict", s.NetworkVerdict,
		"network_verdict_after", s.NetworkVerdictAfter, "urls", s.URLs, "blocked", s.Blocked,
		"services", s.Services, "measurements", s.Measurements, "duration_s", s.DurationS, "uploaded", s.Uploaded)
}
