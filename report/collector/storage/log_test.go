package storage_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/collector/storage"
	"github.com/vantage-probe/vantage/report/sqlitedb"
	"github.com/vantage-probe/vantage/report/translog"
)

func checkpointOf(t *testing.T, db *storage.DB) translog.Checkpoint {
	t.Helper()
	h, err := db.LogHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return translog.Checkpoint{Size: h.Size, Root: h.Root}
}

// TestLogProofsVerify appends batches of several sizes and checks, with the
// library's verifiers, the inclusion of every leaf in every tree head seen and
// the consistency of every pair of heads; the leaf index of each acknowledgement
// is its place in acceptance order, and a duplicate gets the first copy's leaf.
func TestLogProofsVerify(t *testing.T) {
	for _, backend := range collectortest.Backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db := collectortest.OpenDB(t, backend)
			if h := checkpointOf(t, db); h.Size != 0 || fmt.Sprintf("%x", h.Root) != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
				t.Fatalf("empty log head %d %x, want 0 and SHA-256 of nothing", h.Size, h.Root)
			}
			var lines [][]byte
			var heads []translog.Checkpoint
			n := 0
			for _, batch := range []int{1, 2, 1, 5, 8, 3, 13, 1} {
				var recs []storage.Record
				for range batch {
					n++
					recs = append(recs, record(fmt.Sprintf("u%d", n), "k1", fmt.Sprintf("line %d", n)))
				}
				recs = append(recs, recs[0]) // a duplicate inside the batch
				res, err := db.IngestLogged(ctx, recs, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				for i, r := range res[:batch] {
					if r.Outcome != storage.Stored || r.LeafIndex != uint64(len(lines)+i) {
						t.Fatalf("record %d: %v leaf %d, want stored at %d", i, r.Outcome, r.LeafIndex, len(lines)+i)
					}
				}
				if d := res[batch]; d.Outcome != storage.Duplicate || d.LeafIndex != res[0].LeafIndex {
					t.Fatalf("duplicate: %v leaf %d, want leaf %d", d.Outcome, d.LeafIndex, res[0].LeafIndex)
				}
				for _, r := range recs[:batch] {
					lines = append(lines, r.Line)
				}
				heads = append(heads, checkpointOf(t, db))
			}
			for _, h := range heads {
				for i := uint64(0); i < h.Size; i++ {
					p, err := db.InclusionProof(ctx, i, h.Size)
					if err != nil {
						t.Fatal(err)
					}
					if err := translog.VerifyInclusion(h, i, lines[i], p); err != nil {
						t.Fatalf("leaf %d in size %d: %v", i, h.Size, err)
					}
					if err := translog.VerifyInclusion(h, i, []byte("other bytes"), p); err == nil {
						t.Fatalf("leaf %d in size %d: other bytes verify", i, h.Size)
					}
				}
				for _, h2 := range heads {
					if h2.Size < h.Size {
						continue
					}
					p, err := db.ConsistencyProof(ctx, h.Size, h2.Size)
					if err != nil {
						t.Fatal(err)
					}
					if err := translog.VerifyConsistency(h, h2, p); err != nil {
						t.Fatalf("consistency %d → %d: %v", h.Size, h2.Size, err)
					}
				}
			}
			last := heads[len(heads)-1]
			if _, err := db.InclusionProof(ctx, 0, last.Size+1); err == nil {
				t.Error("a proof beyond the log's size was served")
			}
			if _, err := db.ConsistencyProof(ctx, 3, 2); err == nil {
				t.Error("a consistency proof from a larger to a smaller size was served")
			}
			if a, err := db.AuditLog(ctx); err != nil || !a.OK() {
				t.Errorf("audit: %+v %v", a, err)
			}
		})
	}
}

// TestLogConcurrentIngestsStayOrdered runs uploads at once (on PostgreSQL they
// really run in parallel): the log must end with one leaf per measurement, the
// leaf indexes acknowledged all distinct, and the recomputed root the stored one.
func TestLogConcurrentIngestsStayOrdered(t *testing.T) {
	for _, backend := range collectortest.Backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db := collectortest.OpenDB(t, backend)
			var mu sync.Mutex
			seen := map[uint64]string{}
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for b := range 10 {
						var recs []storage.Record
						for i := range 5 {
							u := fmt.Sprintf("w%d-b%d-%d", w, b, i)
							recs = append(recs, record(u, "k1", "line "+u))
						}
						res, err := db.IngestLogged(ctx, recs, time.Now())
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						for i, r := range res {
							if prev, dup := seen[r.LeafIndex]; dup {
								t.Errorf("leaf %d given to %s and %s", r.LeafIndex, prev, recs[i].UID)
							}
							seen[r.LeafIndex] = recs[i].UID
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			a, err := db.AuditLog(ctx)
			if err != nil || !a.OK() || a.Size != 200 {
				t.Errorf("audit: %+v %v", a, err)
			}
		})
	}
}

// TestMigrationAppendsEarlierMeasurements rebuilds a version-1 database (the log
// tables dropped) and reopens it: the measurements stored before the log get
// leaves in the order they were stored.
func TestMigrationAppendsEarlierMeasurements(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := storage.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	for i := range 7 {
		r := record(fmt.Sprintf("u%d", i), "k1", fmt.Sprintf("line %d", i))
		want = append(want, r.Line)
		if _, err := db.Ingest(ctx, []storage.Record{r}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	raw, err := sql.Open(sqlitedb.DriverName, path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TABLE log_leaves`, `DROP TABLE log_nodes`, `DROP TABLE log_head`, `DELETE FROM schema_migrations WHERE version = 2`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	raw.Close()
	db, err = storage.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := checkpointOf(t, db)
	if h.Size != 7 {
		t.Fatalf("size %d after backfill, want 7", h.Size)
	}
	for i, line := range want {
		p, err := db.InclusionProof(ctx, uint64(i), h.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := translog.VerifyInclusion(h, uint64(i), line, p); err != nil {
			t.Errorf("leaf %d: %v", i, err)
		}
	}
	if a, err := db.AuditLog(ctx); err != nil || !a.OK() {
		t.Errorf("audit: %+v %v", a, err)
	}
}
