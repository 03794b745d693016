package collector_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/collector/collectortest"
)

// BenchmarkIngest measures signed measurements stored per second through the
// HTTP handler (verification, shape checks, storage, commit), one per request and
// in batches of 100 and 1000. Figures are in docs/collector.md.
func BenchmarkIngest(b *testing.B) {
	for _, backend := range collectortest.Backends {
		for _, batch := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("%s/batch=%d", backend, batch), func(b *testing.B) {
				benchIngest(b, backend, batch)
			})
		}
	}
}

func benchIngest(b *testing.B, backend string, batch int) {
	c := collectortest.New(b, backend)
	p := collectortest.NewProbe(b)
	n := b.N * batch
	lines := make([][]byte, n)
	for i := range lines {
		lines[i] = p.SignSpec(b, collectortest.Spec{CC: "KZ", ASN: "AS9198", TestName: "web_connectivity",
			Input: fmt.Sprintf("https://site%d.example/", i%500), Start: t0.Add(time.Duration(i) * time.Second),
			Verdict: "blocked", Method: "dns.nxdomain"})
	}
	ctype := "application/json"
	if batch > 1 {
		ctype = "application/x-ndjson"
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < n; i += batch {
		body := bytes.Join(lines[i:i+batch], []byte("\n"))
		resp, err := http.Post(c.URL+"/api/v1/measurements", ctype, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("upload: %s", resp.Status)
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "measurements/s")
}
