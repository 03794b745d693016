package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report/sqlitedb"
	"github.com/vantage-probe/vantage/report/upload/uploadtest"
)

// TestPruneUploaded: a store with 10,000 uploaded old measurements prunes to the
// configured age; nothing that is not uploaded is ever pruned, however old.
func TestPruneUploaded(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	run := beginRun(t, s)
	priv := uploadtest.NewKey(t)
	ctx := context.Background()
	now := t0.Add(90 * 24 * time.Hour)
	cutoff := now.Add(-store.DefaultKeepUploaded)

	// A few through the real API, to be sure the shapes SaveMeasurement and
	// MarkUploaded write are the ones pruned.
	save(t, s, run, priv, "api-old-uploaded", cutoff.Add(-time.Hour), true)
	save(t, s, run, priv, "api-old-pending", cutoff.Add(-time.Hour), true)
	save(t, s, run, priv, "api-old-local", cutoff.Add(-time.Hour), false)
	if err := s.MarkUploaded(ctx, "api-old-uploaded"); err != nil {
		t.Fatal(err)
	}

	// The bulk straight into the tables in one transaction (10,000 signed saves
	// would take minutes of fsyncs and prove nothing more).
	raw, err := sql.Open(sqlitedb.DriverName, filepath.Join(dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	const old = 10000
	kinds := []struct {
		prefix, state string
		n             int
		start         time.Time
	}{
		{"old-uploaded", "uploaded", old, cutoff.Add(-24 * time.Hour)},
		{"edge-uploaded", "uploaded", 1, cutoff}, // exactly at the cutoff: kept
		{"new-uploaded", "uploaded", 50, cutoff.Add(time.Hour)},
		{"old-pending", "pending", 300, cutoff.Add(-60 * 24 * time.Hour)},
		{"old-rejected", "rejected", 20, cutoff.Add(-60 * 24 * time.Hour)},
		{"old-local", "", 30, cutoff.Add(-60 * 24 * time.Hour)},
	}
	tx, err := raw.Begin()
	if err != nil {
		t.Fatal(err)
	}
	stamp := func(tm time.Time) string { return tm.UTC().Format("2006-01-02T15:04:05.000000000Z") }
	for _, k := range kinds {
		for i := range k.n {
			uid := fmt.Sprintf("%s-%d", k.prefix, i)
			if _, err := tx.Exec(`INSERT INTO measurements (uid, run_id, test_name, input, verdict, method, start_time, signed_line)
				VALUES (?, ?, 'web_connectivity', 'https://example.org/', 'ok', '', ?, x'7b7d')`, uid, run, stamp(k.start)); err != nil {
				t.Fatal(err)
			}
			if k.state == "" {
				continue
			}
			if _, err := tx.Exec(`INSERT INTO upload_queue (uid, state, next_attempt, queued_at) VALUES (?, ?, ?, ?)`,
				uid, k.state, stamp(k.start), stamp(k.start)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	n, err := s.PruneUploaded(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if n != old+1 {
		t.Errorf("pruned %d, want %d (the old uploaded ones and the API one)", n, old+1)
	}
	count := func(q string, args ...any) int {
		var c int
		if err := raw.QueryRow(q, args...).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, k := range kinds {
		got := count(`SELECT count(*) FROM measurements WHERE uid LIKE ?`, k.prefix+"-%")
		want := k.n
		if k.prefix == "old-uploaded" {
			want = 0
		}
		if got != want {
			t.Errorf("%s: %d measurements left, want %d", k.prefix, got, want)
		}
	}
	for _, uid := range []string{"api-old-pending", "api-old-local"} {
		if count(`SELECT count(*) FROM measurements WHERE uid = ?`, uid) != 1 {
			t.Errorf("%s was pruned", uid)
		}
	}
	if count(`SELECT count(*) FROM measurements WHERE uid = 'api-old-uploaded'`) != 0 {
		t.Errorf("api-old-uploaded survived")
	}
	if orphans := count(`SELECT count(*) FROM upload_queue q LEFT JOIN measurements m ON m.uid = q.uid WHERE m.uid IS NULL`); orphans != 0 {
		t.Errorf("%d queue rows left without their measurement", orphans)
	}
	if p := count(`SELECT count(*) FROM upload_queue WHERE state = 'pending'`); p != 301 {
		t.Errorf("%d pending queue rows, want 301", p)
	}
	// Pruning again finds nothing.
	if n, err := s.PruneUploaded(ctx, cutoff); err != nil || n != 0 {
		t.Errorf("second prune: %d, %v", n, err)
	}
}
