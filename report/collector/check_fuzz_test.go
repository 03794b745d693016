package collector

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/collector/storage"
)

// FuzzCheckLine feeds arbitrary lines to the ingest checks: they must never panic,
// and a line they accept must verify on its own and carry a sane shape.
func FuzzCheckLine(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	in := "https://example.org/"
	m := &report.Measurement{MeasurementUID: "20220105100000.000000_KZ_webconnectivity_0011223344556677",
		MeasurementStartTime: "2022-01-05 10:00:00", ProbeCC: "KZ", ProbeASN: "AS9198", TestName: "web_connectivity",
		Input: &in, TestKeys: map[string]any{"verdict": "blocked", "method": "dns.nxdomain"}}
	b, _ := report.Marshal(m)
	line, _ := report.Sign(priv, b)
	f.Add(line)
	f.Add([]byte(`{"format":"vantage-signed-v1","measurement":{}}`))
	f.Add([]byte(`[[[[[[[[[[`))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line []byte) {
		var rec storage.Record
		if err := checkLine(line, now, &rec); err != nil {
			return
		}
		if _, err := report.Verify(line); err != nil {
			t.Fatalf("accepted a line that does not verify: %v", err)
		}
		if !validCC(rec.ProbeCC) || !validASN(rec.ProbeASN) || rec.UID == "" || rec.StartTime.IsZero() {
			t.Fatalf("accepted a bad shape: %+v", rec)
		}
	})
}
