package storage_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/collector/storage"
)

func record(uid, key string, line string) storage.Record {
	return storage.Record{UID: uid, ProbeID: "p1", PublicKey: key, ProbeCC: "KZ", ProbeASN: "AS9198",
		TestName: "connectivity", Verdict: "online", StartTime: time.Date(2022, 1, 5, 0, 0, 0, 0, time.UTC), Line: []byte(line)}
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := storage.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Ingest(ctx, []storage.Record{record("u1", "k1", "line1")}, time.Now()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = storage.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	line, err := db.Line(ctx, "u1")
	if err != nil || string(line) != "line1" {
		t.Fatalf("after reopen: %q %v", line, err)
	}
}

func TestIngestBatchIsAtomicAndKeysPinned(t *testing.T) {
	for _, backend := range collectortest.Backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db := collectortest.OpenDB(t, backend)
			if _, err := db.Ingest(ctx, []storage.Record{record("u1", "k1", "line1")}, time.Now()); err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				name  string
				batch []storage.Record
				want  error
				index int
			}{
				{"conflict", []storage.Record{record("u2", "k1", "line2"), record("u1", "k1", "other")}, storage.ErrConflict, 1},
				{"key mismatch", []storage.Record{record("u3", "k1", "line3"), record("u4", "k2", "line4")}, storage.ErrKeyMismatch, 1},
				{"conflict inside the batch", []storage.Record{record("u5", "k1", "a"), record("u5", "k1", "b")}, storage.ErrConflict, 1},
			}
			for _, tc := range cases {
				_, err := db.Ingest(ctx, tc.batch, time.Now())
				var ie *storage.IngestError
				if !errors.Is(err, tc.want) || !errors.As(err, &ie) || ie.Index != tc.index {
					t.Errorf("%s: %v, want %v at %d", tc.name, err, tc.want, tc.index)
				}
				for _, r := range tc.batch {
					if r.UID == "u1" {
						continue
					}
					if _, err := db.Line(ctx, r.UID); !errors.Is(err, storage.ErrNotFound) {
						t.Errorf("%s: %s was stored (%v)", tc.name, r.UID, err)
					}
				}
			}
			out, err := db.Ingest(ctx, []storage.Record{record("u1", "k1", "line1"), record("u6", "k1", "line6")}, time.Now())
			if err != nil || out[0] != storage.Duplicate || out[1] != storage.Stored {
				t.Errorf("duplicate then new: %v %v", out, err)
			}
		})
	}
}

// TestConcurrentOpenMigratesOnce starts several collectors against one empty
// PostgreSQL schema at once, as a deployment restart does: the migration lock must
// let exactly one create the schema and the others find it done.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	dbURL := collectortest.PostgresSchemaURL(t)
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			db, err := storage.Open(context.Background(), dbURL)
			if err == nil {
				db.Close()
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent open: %v", err)
		}
	}
}
