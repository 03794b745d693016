//go:build unix

package collector_test

import (
	"bytes"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/collector/collectortest"
)

// BenchmarkIngest measures signed measurements stored per second through the
// HTTP handler (verification, shape checks, storage, commit), one per request, 50
// (the upload client's default batch), 100 and 1000. Figures: docs/collector.md.
func BenchmarkIngest(b *testing.B) {
	for _, backend := range collectortest.Backends {
		for _, batch := range []int{1, 50, 100, 1000} {
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
	start, cpu0 := time.Now(), cpuTime()
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
	// CPU per measurement (collector and client together, every goroutine) is
	// steadier than wall time on a machine shared with other work.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n), "cpu-µs/measurement")
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
