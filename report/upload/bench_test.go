package upload_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/vantage-probe/vantage/report"

	"github.com/vantage-probe/vantage/report/upload"
	"github.com/vantage-probe/vantage/report/upload/uploadtest"
)

// BenchmarkDrain measures draining 500 queued measurements to the fake collector
// on loopback in batches of DefaultBatchSize, store bookkeeping included.
func BenchmarkDrain(b *testing.B) {
	priv := uploadtest.NewKey(b)
	for range b.N {
		b.StopTimer()
		col := uploadtest.NewServer()
		s, _ := fill(b, b.TempDir(), priv, 500)
		b.StartTimer()
		res, err := (&upload.Client{Collector: col.URL}).Drain(context.Background(), s)
		if err != nil || res.Uploaded != 500 {
			b.Fatalf("%+v, %v", res, err)
		}
		b.StopTimer()
		s.Close()
		col.Close()
	}
}

// typicalLines signs the 50 measurements of testdata/typical50.jsonl.gz: the
// output of a lab run of 48 sites (28 clean, 20 blocked by DNS, TCP, TLS, a
// blockpage or a black hole) and its two connectivity checks, about 21 KB each.
func typicalLines(tb testing.TB) [][]byte {
	tb.Helper()
	f, err := os.Open("testdata/typical50.jsonl.gz")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	priv := uploadtest.NewKey(tb)
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 16<<20)
	var out [][]byte
	for sc.Scan() {
		var m report.Measurement
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			tb.Fatal(err)
		}
		out = append(out, uploadtest.Sign(tb, priv, &m))
	}
	if len(out) != 50 {
		tb.Fatalf("%d typical measurements, want 50", len(out))
	}
	return out
}

// BenchmarkGzipTypicalBatch sends one batch of 50 typical signed measurements
// through the upload client and reports the body's bytes before and after gzip
// (the figure in docs/benchmarks.md).
func BenchmarkGzipTypicalBatch(b *testing.B) {
	lines := typicalLines(b)
	col := uploadtest.NewServer()
	defer col.Close()
	var res upload.Result
	for range b.N {
		var err error
		res, err = (&upload.Client{Collector: col.URL}).Drain(context.Background(), queueOf(lines...))
		if err != nil || res.Uploaded+res.Duplicates != 50 {
			b.Fatalf("%+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(res.BytesRaw), "raw-bytes/batch")
	b.ReportMetric(float64(res.BytesSent), "gzip-bytes/batch")
	b.ReportMetric(float64(res.BytesRaw)/float64(res.BytesSent), "ratio")
}
