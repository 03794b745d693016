package upload_test

import (
	"context"
	"testing"

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
