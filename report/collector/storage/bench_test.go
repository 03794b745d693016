package storage_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/collector/storage"
)

// benchRows is how many measurements BenchmarkList stores before querying:
// VANTAGE_BENCH_ROWS, default 100,000 (a million takes minutes to load).
func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("VANTAGE_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

var benchStart = time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)

// benchSpan is the 90 days, in seconds, the synthetic measurements spread over.
const benchSpan = 90 * 24 * 3600

// loadRows stores n synthetic measurements spread over 90 days, 20 countries,
// 200 networks, 3 tests and 5,000 domains. The lines are ~1 kB placeholders: the
// store keeps bytes, it does not parse them.
func loadRows(b *testing.B, db *storage.DB, n int) {
	ctx := context.Background()
	line := make([]byte, 1024)
	for i := range line {
		line[i] = 'x'
	}
	ccs := []string{"KZ", "RU", "IR", "CN", "TR", "BY", "UZ", "MM", "ET", "PK", "EG", "VN", "SA", "AE", "TM", "TJ", "KG", "AZ", "CU", "VE"}
	verdicts := []string{"ok", "ok", "ok", "blocked", "down", "inconclusive"}
	methods := []string{"dns.nxdomain", "tls.reset", "tcp.timeout", "http.blockpage"}
	const batch = 5000
	for done := 0; done < n; {
		recs := make([]storage.Record, 0, batch)
		for ; len(recs) < batch && done < n; done++ {
			r := storage.Record{
				UID: fmt.Sprintf("bench_%09d", done), ProbeID: fmt.Sprintf("%032x", done%50), PublicKey: "k",
				ProbeCC: ccs[done%len(ccs)], ProbeASN: fmt.Sprintf("AS%d", 1000+done%200),
				StartTime: benchStart.Add(time.Duration(int64(done)*benchSpan/int64(n)) * time.Second), Line: line,
			}
			switch done % 3 {
			case 0:
				r.TestName, r.Verdict = "connectivity", []string{"online", "online", "full_shutdown", "partial_shutdown"}[done%4]
			default:
				r.TestName = "web_connectivity"
				r.Input = fmt.Sprintf("https://site%d.example/", done%5000)
				r.Domain = fmt.Sprintf("site%d.example", done%5000)
				r.Verdict = verdicts[(done/3)%len(verdicts)]
				if r.Verdict == "blocked" {
					r.Method = methods[done%len(methods)]
				}
			}
			recs = append(recs, r)
		}
		if _, err := db.Ingest(ctx, recs, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList measures the API's queries against a store of benchRows()
// measurements. Figures are in docs/collector.md.
func BenchmarkList(b *testing.B) {
	for _, backend := range collectortest.Backends {
		b.Run(backend, func(b *testing.B) {
			db := collectortest.OpenDB(b, backend)
			n := benchRows()
			t0 := time.Now()
			loadRows(b, db, n)
			b.Logf("%s: loaded %d rows in %v (%.0f rows/s)", backend, n, time.Since(t0), float64(n)/time.Since(t0).Seconds())
			ctx := context.Background()
			// What a running collector does hourly (a no-op on PostgreSQL).
			t1 := time.Now()
			if err := db.Optimize(ctx); err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: optimize took %v", backend, time.Since(t1))
			mid := benchStart.Add(45 * 24 * time.Hour)
			var cursor *storage.Cursor
			if rows, _ := db.List(ctx, storage.Filter{ProbeCC: "KZ"}, nil, storage.NewestFirst, 100); len(rows) == 100 {
				cursor = &storage.Cursor{StartTime: rows[99].StartTime.Unix(), ID: rows[99].ID}
			}
			lists := []struct {
				name  string
				f     storage.Filter
				after *storage.Cursor
			}{
				{"newest", storage.Filter{}, nil},
				{"cc", storage.Filter{ProbeCC: "KZ"}, nil},
				{"cc-page2", storage.Filter{ProbeCC: "KZ"}, cursor},
				{"cc-asn-test-verdict", storage.Filter{ProbeCC: "KZ", ProbeASN: "AS1000", TestName: "connectivity", Verdict: "online"}, nil},
				{"domain", storage.Filter{Domain: "site42.example"}, nil},
				{"blocked-method-since", storage.Filter{Verdict: "blocked", Method: "tls.reset", Since: mid}, nil},
				{"no-match", storage.Filter{Input: "' OR 1=1 --"}, nil},
			}
			for _, l := range lists {
				// Every query but no-match must find rows, or it measures nothing.
				if rows, err := db.List(ctx, l.f, l.after, storage.NewestFirst, 100); err != nil || (len(rows) == 0) != (l.name == "no-match") {
					b.Fatalf("%s: %d rows, %v", l.name, len(rows), err)
				}
				b.Run("list/"+l.name, func(b *testing.B) {
					for b.Loop() {
						if _, err := db.List(ctx, l.f, l.after, storage.NewestFirst, 100); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			b.Run("aggregate/timeline-30d", func(b *testing.B) {
				f := storage.Filter{ProbeCC: "KZ", TestName: "connectivity", Since: mid, Until: mid.Add(30 * 24 * time.Hour)}
				if bk, err := db.Aggregate(ctx, f, []storage.Axis{storage.AxisDay, storage.AxisProbeASN, storage.AxisVerdict}, false, 20000); err != nil || len(bk) == 0 {
					b.Fatalf("timeline: %d buckets, %v", len(bk), err)
				}
				for b.Loop() {
					if _, err := db.Aggregate(ctx, f, []storage.Axis{storage.AxisDay, storage.AxisProbeASN, storage.AxisVerdict}, false, 20000); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkLogProofs measures serving proofs from a log of benchRows() leaves
// (loaded through Ingest, so the log is built the way a collector builds it):
// inclusion of a leaf at a random place, consistency from a random older size,
// and the tree head (what a checkpoint needs). Figures: docs/benchmarks.md.
func BenchmarkLogProofs(b *testing.B) {
	for _, backend := range collectortest.Backends {
		b.Run(backend, func(b *testing.B) {
			db := collectortest.OpenDB(b, backend)
			n := benchRows()
			t0 := time.Now()
			loadRows(b, db, n)
			b.Logf("%s: loaded %d rows with their leaves in %v (%.0f rows/s)", backend, n, time.Since(t0), float64(n)/time.Since(t0).Seconds())
			ctx := context.Background()
			size := uint64(n)
			var i uint64
			b.Run("inclusion", func(b *testing.B) {
				for b.Loop() {
					i = (i*2654435761 + 12345) % size
					if _, err := db.InclusionProof(ctx, i, size); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("consistency", func(b *testing.B) {
				for b.Loop() {
					i = (i*2654435761 + 12345) % size
					if _, err := db.ConsistencyProof(ctx, i+1, size); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("head", func(b *testing.B) {
				for b.Loop() {
					if _, err := db.LogHead(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
