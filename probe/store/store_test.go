package store_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/sqlitedb"

	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report/upload/uploadtest"
)

var t0 = time.Date(2022, 1, 5, 10, 0, 0, 0, time.UTC)

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func beginRun(t *testing.T, s *store.Store) int64 {
	t.Helper()
	id, err := s.BeginRun(context.Background(), store.RunInfo{TestName: "web_connectivity", StartTime: t0, ProbeCC: "KZ", ProbeASN: "AS9198", NetworkName: "Beeline"})
	if err != nil {
		t.Fatalf("BeginRun: %v", err)
	}
	return id
}

func save(t *testing.T, s *store.Store, runID int64, priv ed25519.PrivateKey, uid string, start time.Time, enqueue bool) []byte {
	t.Helper()
	line := uploadtest.SignedLine(t, priv, uid, "https://example.org/", start, map[string]any{"verdict": "ok"})
	meta := store.MeasurementMeta{UID: uid, TestName: "web_connectivity", Input: "https://example.org/", Verdict: "ok", StartTime: start}
	if err := s.SaveMeasurement(context.Background(), runID, line, meta, enqueue); err != nil {
		t.Fatalf("SaveMeasurement %s: %v", uid, err)
	}
	return line
}

func TestSaveAndReadBack(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	priv := uploadtest.NewKey(t)
	run := beginRun(t, s)
	var lines [][]byte
	for i := range 3 {
		lines = append(lines, save(t, s, run, priv, fmt.Sprintf("uid-%d", i), t0.Add(time.Duration(i)*time.Hour), false))
	}
	if err := s.FinishRun(ctx, run, []byte(`{"summary":{}}`)); err != nil {
		t.Fatalf("FinishRun: %v", err)
	}
	for _, name := range []string{store.FileName, store.FileName + "-wal", store.FileName + "-shm"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", name, st.Mode().Perm())
		} else if err != nil {
			t.Error(err)
		}
	}
	s.Close()

	s = openStore(t, dir) // everything must survive a reopen
	r, ms, err := s.Run(ctx, run)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if r.TestName != "web_connectivity" || r.ProbeASN != "AS9198" || !r.StartTime.Equal(t0) || r.FinishTime.IsZero() || string(r.Summary) != `{"summary":{}}` || r.Measurements != 3 {
		t.Errorf("run = %+v", r)
	}
	if len(ms) != 3 {
		t.Fatalf("got %d measurements, want 3", len(ms))
	}
	for i, m := range ms {
		if !bytes.Equal(m.Line, lines[i]) {
			t.Errorf("measurement %d: stored bytes differ from the signed line", i)
		}
		if m.UID != fmt.Sprintf("uid-%d", i) || m.RunID != run || m.Verdict != "ok" || !m.StartTime.Equal(t0.Add(time.Duration(i)*time.Hour)) {
			t.Errorf("measurement %d meta = %+v", i, m.MeasurementMeta)
		}
	}
	var since []string
	err = s.MeasurementsSince(ctx, t0.Add(time.Hour), func(m store.StoredMeasurement) error {
		since = append(since, m.UID)
		return nil
	})
	if err != nil || strings.Join(since, ",") != "uid-1,uid-2" {
		t.Errorf("MeasurementsSince = %v, %v; want uid-1,uid-2", since, err)
	}
	stop := errors.New("stop")
	n := 0
	err = s.MeasurementsSince(ctx, time.Time{}, func(store.StoredMeasurement) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("callback error: got %v after %d calls, want stop after 1", err, n)
	}
	runs, err := s.Runs(ctx, 10)
	if err != nil || len(runs) != 1 || runs[0].ID != run {
		t.Errorf("Runs = %+v, %v", runs, err)
	}
	if _, _, err := s.Run(ctx, run+100); !errors.Is(err, store.ErrUnknownRun) {
		t.Errorf("unknown run: err = %v, want ErrUnknownRun", err)
	}
}

func TestSaveIsIdempotentAndRefusesConflicts(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	priv := uploadtest.NewKey(t)
	run := beginRun(t, s)
	line := save(t, s, run, priv, "uid-a", t0, true)
	// The same bytes again (a retried save) succeed and change nothing.
	save(t, s, run, priv, "uid-a", t0, true)
	other := uploadtest.SignedLine(t, priv, "uid-a", "https://other.example/", t0, nil)
	err := s.SaveMeasurement(ctx, run, other, store.MeasurementMeta{UID: "uid-a"}, true)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("conflicting save: err = %v, want ErrConflict", err)
	}
	_, ms, _ := s.Run(ctx, run)
	if len(ms) != 1 || !bytes.Equal(ms[0].Line, line) {
		t.Fatalf("after conflict: %d measurements, first unchanged = %v", len(ms), len(ms) == 1 && bytes.Equal(ms[0].Line, line))
	}
	p, _ := s.PendingUploads(ctx, 0)
	if len(p) != 1 {
		t.Errorf("queue has %d entries, want 1", len(p))
	}
}

func TestSaveRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	priv := uploadtest.NewKey(t)
	run := beginRun(t, s)
	good := uploadtest.SignedLine(t, priv, "uid-b", "x", t0, nil)
	tampered := bytes.Replace(good, []byte(`"probe_cc":"KZ"`), []byte(`"probe_cc":"RU"`), 1)
	cases := []struct {
		name string
		run  int64
		line []byte
		uid  string
		want error
	}{
		{"tampered line", run, tampered, "uid-b", store.ErrBadLine},
		{"not json", run, []byte("hello"), "", store.ErrBadLine},
		{"uid mismatch", run, good, "uid-other", store.ErrBadLine},
		{"unknown run", run + 7, good, "uid-b", store.ErrUnknownRun},
	}
	for _, c := range cases {
		err := s.SaveMeasurement(ctx, c.run, c.line, store.MeasurementMeta{UID: c.uid}, true)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	n := 0
	s.MeasurementsSince(ctx, time.Time{}, func(store.StoredMeasurement) error { n++; return nil })
	p, _ := s.PendingUploads(ctx, 0)
	if n != 0 || len(p) != 0 {
		t.Errorf("refused saves left %d measurements and %d queue entries", n, len(p))
	}
}

func TestQueueLifecycleSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	now := t0
	s.Now = func() time.Time { return now }
	priv := uploadtest.NewKey(t)
	run := beginRun(t, s)
	for i := range 4 {
		save(t, s, run, priv, fmt.Sprintf("q%d", i), t0, true)
	}
	save(t, s, run, priv, "local-only", t0, false)
	p, err := s.PendingUploads(ctx, 0)
	if err != nil || len(p) != 4 {
		t.Fatalf("PendingUploads = %d, %v; want 4", len(p), err)
	}
	if p2, _ := s.PendingUploads(ctx, 2); len(p2) != 2 || p2[0].UID != "q0" {
		t.Errorf("limit 2: %+v", p2)
	}
	if err := s.MarkUploaded(ctx, "q0", "q1"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkUploadFailed(ctx, "q2", true, "400 bad signature"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkUploadFailed(ctx, "q3", false, "503"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkUploadFailed(ctx, "local-only", false, "x"); !errors.Is(err, store.ErrUnknownQueue) {
		t.Errorf("failing an unqueued uid: err = %v, want ErrUnknownQueue", err)
	}
	if p, _ := s.PendingUploads(ctx, 0); len(p) != 0 {
		t.Errorf("right after a transient failure, q3 must wait: pending = %+v", p)
	}
	s.Close()

	s = openStore(t, dir)
	now = t0.Add(59 * time.Second)
	s.Now = func() time.Time { return now }
	if p, _ := s.PendingUploads(ctx, 0); len(p) != 0 {
		t.Errorf("59 s after the first failure q3 must still wait (1 min backoff): %+v", p)
	}
	now = t0.Add(time.Minute)
	p, _ = s.PendingUploads(ctx, 0)
	if len(p) != 1 || p[0].UID != "q3" || p[0].Attempts != 1 {
		t.Fatalf("after the backoff: pending = %+v, want q3 with 1 attempt", p)
	}
	// A second failure doubles the wait.
	s.MarkUploadFailed(ctx, "q3", false, "503")
	now = t0.Add(time.Minute + 119*time.Second)
	if p, _ := s.PendingUploads(ctx, 0); len(p) != 0 {
		t.Errorf("second backoff must be 2 min: %+v", p)
	}
	now = t0.Add(3 * time.Minute)
	if p, _ := s.PendingUploads(ctx, 0); len(p) != 1 || p[0].Attempts != 2 {
		t.Errorf("after second backoff: %+v", p)
	}
	st, err := s.QueueStats(ctx)
	if err != nil || st != (store.QueueStats{Pending: 1, Due: 1, Uploaded: 2, Rejected: 1}) {
		t.Errorf("QueueStats = %+v, %v", st, err)
	}
	// Re-saving an uploaded measurement does not queue it again.
	save(t, s, run, priv, "q0", t0, true)
	if st2, _ := s.QueueStats(ctx); st2.Uploaded != 2 || st2.Pending != 1 {
		t.Errorf("re-save re-queued an uploaded measurement: %+v", st2)
	}
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestNewerSchemaIsRefusedAndUntouched(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	run := beginRun(t, s)
	save(t, s, run, uploadtest.NewKey(t), "kept", t0, true)
	s.Close()
	path := filepath.Join(dir, store.FileName)
	raw, err := sql.Open(sqlitedb.DriverName, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(fmt.Sprintf("PRAGMA user_version = %d", store.SchemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	before := fileHash(t, path)
	_, err = store.Open(dir)
	if !errors.Is(err, store.ErrNewerSchema) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open(newer schema) = %v; want ErrNewerSchema naming %s", err, path)
	}
	if fileHash(t, path) != before {
		t.Error("refusing a newer schema modified the file")
	}
}

func TestCorruptFilesAreRefused(t *testing.T) {
	cases := map[string]func(t *testing.T, path string){
		"garbage": func(t *testing.T, path string) {
			os.WriteFile(path, bytes.Repeat([]byte("not a database "), 400), 0o600)
		},
		"foreign sqlite file": func(t *testing.T, path string) {
			raw, err := sql.Open(sqlitedb.DriverName, path)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.Exec("CREATE TABLE cookies (name TEXT)"); err != nil {
				t.Fatal(err)
			}
		},
		"damaged pages": func(t *testing.T, path string) {
			s, err := store.Open(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			run := beginRun(t, s)
			save(t, s, run, uploadtest.NewKey(t), "x", t0, true)
			s.Close()
			b, _ := os.ReadFile(path)
			// Overwrite everything after the 100-byte header, keeping the magic string.
			for i := 100; i < len(b); i++ {
				b[i] = 0xA5
			}
			os.WriteFile(path, b, 0o600)
		},
	}
	for name, prepare := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, store.FileName)
			prepare(t, path)
			before := fileHash(t, path)
			s, err := store.Open(dir)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded on a damaged file")
			}
			if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Errorf("err = %v; want ErrCorrupt naming %s", err, path)
			}
			if fileHash(t, path) != before {
				t.Error("refusing a damaged file modified it")
			}
		})
	}
}

func TestConnectivityAndNetworks(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	for i, v := range []string{"online", "full_shutdown", "partial_shutdown"} {
		err := s.AddConnectivity(ctx, store.ConnectivityRecord{Time: t0.Add(time.Duration(i) * time.Hour), ProbeCC: "KZ", ProbeASN: "AS9198", NetworkKey: "AS9198/wifi", Verdict: v, Evidence: []byte(`{"n":` + fmt.Sprint(i) + `}`)})
		if err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.ConnectivityHistory(ctx, t0.Add(time.Hour))
	if err != nil || len(h) != 2 || h[0].Verdict != "full_shutdown" || h[1].Verdict != "partial_shutdown" || string(h[1].Evidence) != `{"n":2}` || !h[0].Time.Equal(t0.Add(time.Hour)) {
		t.Errorf("ConnectivityHistory = %+v, %v", h, err)
	}
	if n, err := s.NetworkInfo(ctx, "nope"); n != nil || err != nil {
		t.Errorf("unknown network = %v, %v; want nil, nil", n, err)
	}
	s.SetNetworkInfo(ctx, store.NetworkInfo{Key: "k", ProbeCC: "KZ", ProbeASN: "AS9198", Name: "Beeline", Seen: t0})
	s.SetNetworkInfo(ctx, store.NetworkInfo{Key: "k", ProbeCC: "KZ", ProbeASN: "AS9198", Name: "Beeline KZ", Seen: t0.Add(time.Hour)})
	n, err := s.NetworkInfo(ctx, "k")
	if err != nil || n == nil || n.Name != "Beeline KZ" || !n.FirstSeen.Equal(t0) || !n.Seen.Equal(t0.Add(time.Hour)) {
		t.Errorf("NetworkInfo = %+v, %v", n, err)
	}
}

// TestConcurrentSaves checks that writers in parallel (the runner's pool, or an
// upload process beside a run) queue on the lock instead of failing with
// SQLITE_BUSY.
func TestConcurrentSaves(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	other := openStore(t, dir) // a second handle, as a second process would have
	priv := uploadtest.NewKey(t)
	run := beginRun(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := s
			if w%2 == 1 {
				st = other
			}
			for i := range 20 {
				uid := fmt.Sprintf("w%d-%d", w, i)
				line := uploadtest.SignedLine(t, priv, uid, "x", t0, nil)
				if err := st.SaveMeasurement(context.Background(), run, line, store.MeasurementMeta{UID: uid}, true); err != nil {
					errs <- err
				}
				if i%5 == 0 {
					if err := st.MarkUploaded(context.Background(), uid); err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st, _ := s.QueueStats(context.Background())
	if st.Pending+st.Uploaded != 160 || st.Uploaded != 32 {
		t.Errorf("QueueStats = %+v; want 128 pending + 32 uploaded", st)
	}
}

// TestCancelledContextStillSaves: a measurement finished as the run is cancelled
// (Ctrl-C, SIGTERM) is still stored, and an acknowledgement still recorded.
func TestCancelledContextStillSaves(t *testing.T) {
	s := openStore(t, t.TempDir())
	run := beginRun(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	line := uploadtest.SignedLine(t, uploadtest.NewKey(t), "late", "x", t0, nil)
	if err := s.SaveMeasurement(ctx, run, line, store.MeasurementMeta{UID: "late"}, true); err != nil {
		t.Fatalf("SaveMeasurement with a cancelled context: %v", err)
	}
	if err := s.MarkUploaded(ctx, "late"); err != nil {
		t.Fatalf("MarkUploaded with a cancelled context: %v", err)
	}
	if err := s.FinishRun(ctx, run, nil); err != nil {
		t.Fatalf("FinishRun with a cancelled context: %v", err)
	}
	if st, _ := s.QueueStats(context.Background()); st.Uploaded != 1 {
		t.Errorf("queue = %+v", st)
	}
}

// TestOddDirectoryNames: characters that mean something in a sqlite URI.
func TestOddDirectoryNames(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c%20d")
	s := openStore(t, dir)
	beginRun(t, s)
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, store.FileName)); err != nil {
		t.Fatalf("database not created where asked: %v", err)
	}
	s = openStore(t, dir)
	if runs, err := s.Runs(context.Background(), 0); err != nil || len(runs) != 1 {
		t.Errorf("Runs = %v, %v", runs, err)
	}
}

func TestPreferredRouteSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	if got, err := s.PreferredRoute(ctx); err != nil || got != "" {
		t.Fatalf("fresh store: %q, %v; want no route", got, err)
	}
	for _, key := range []string{"https://a.example", "https://a.example front cdn.example"} {
		if err := s.SetPreferredRoute(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = openStore(t, dir)
	if got, err := s.PreferredRoute(ctx); err != nil || got != "https://a.example front cdn.example" {
		t.Errorf("after reopen: %q, %v; want the last route set", got, err)
	}
}
