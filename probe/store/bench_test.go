package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report/upload/uploadtest"
)

// BenchmarkSaveMeasurement measures one durable save (verify + one transaction +
// fsync under synchronous=FULL), queued for upload, for a small measurement and
// for one carrying a 100 KiB body.
func BenchmarkSaveMeasurement(b *testing.B) {
	for _, size := range []int{0, 100 << 10} {
		b.Run(fmt.Sprintf("body=%dKiB", size>>10), func(b *testing.B) {
			s, err := store.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			priv := uploadtest.NewKey(b)
			run, _ := s.BeginRun(context.Background(), store.RunInfo{StartTime: t0})
			body := strings.Repeat("<p>x</p>", size/8)
			lines := make([][]byte, b.N)
			for i := range lines {
				lines[i] = uploadtest.SignedLine(b, priv, fmt.Sprintf("uid-%d", i), "https://example.org/", t0, map[string]any{"body": body})
			}
			b.SetBytes(int64(len(lines[0])))
			b.ResetTimer()
			for i := range b.N {
				if err := s.SaveMeasurement(context.Background(), run, lines[i], store.MeasurementMeta{UID: fmt.Sprintf("uid-%d", i), StartTime: t0}, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkQueueRoundTrip measures taking a batch of 50 from the queue and marking
// it uploaded, as one upload batch does.
func BenchmarkQueueRoundTrip(b *testing.B) {
	s, err := store.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	priv := uploadtest.NewKey(b)
	run, _ := s.BeginRun(context.Background(), store.RunInfo{StartTime: t0})
	n := 50 * b.N
	for i := range n {
		line := uploadtest.SignedLine(b, priv, fmt.Sprintf("uid-%d", i), "x", t0, nil)
		if err := s.SaveMeasurement(context.Background(), run, line, store.MeasurementMeta{UID: fmt.Sprintf("uid-%d", i)}, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		p, err := s.PendingUploads(context.Background(), 50)
		if err != nil || len(p) != 50 {
			b.Fatalf("%d pending, %v", len(p), err)
		}
		uids := make([]string, len(p))
		for i := range p {
			uids[i] = p[i].UID
		}
		if err := s.MarkUploaded(context.Background(), uids...); err != nil {
			b.Fatal(err)
		}
	}
}
