package collectortest

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report"
)

// NewKey returns a fresh probe key.
func NewKey(tb testing.TB) ed25519.PrivateKey {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatalf("collectortest: generate key: %v", err)
	}
	return priv
}

// Measurement returns a plausible measurement with the given uid, input and test
// keys, started at start.
func Measurement(uid, input string, start time.Time, testKeys any) *report.Measurement {
	in := input
	return &report.Measurement{
		Annotations:          map[string]string{"platform": "linux"},
		Input:                &in,
		MeasurementStartTime: report.FormatTime(start),
		MeasurementUID:       uid,
		Options:              []string{},
		ProbeASN:             "AS9198",
		ProbeCC:              "KZ",
		ReportID:             "20220105T000000Z_webconnectivity_KZ_9198_n1_0000000000000000",
		SoftwareVersion:      "test",
		TestHelpers:          map[string]any{},
		TestKeys:             testKeys,
		TestName:             "web_connectivity",
		TestStartTime:        report.FormatTime(start),
		TestVersion:          "0.1.0",
	}
}

// Sign encodes m canonically (report.Marshal) and signs it (report.Sign).
func Sign(tb testing.TB, priv ed25519.PrivateKey, m *report.Measurement) []byte {
	tb.Helper()
	b, err := report.Marshal(m)
	if err != nil {
		tb.Fatalf("collectortest: marshal: %v", err)
	}
	line, err := report.Sign(priv, b)
	if err != nil {
		tb.Fatalf("collectortest: sign: %v", err)
	}
	return line
}

// SignedLine is Sign(Measurement(uid, input, start, keys)).
func SignedLine(tb testing.TB, priv ed25519.PrivateKey, uid, input string, start time.Time, testKeys any) []byte {
	tb.Helper()
	return Sign(tb, priv, Measurement(uid, input, start, testKeys))
}
