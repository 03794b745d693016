package collector_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/collector/storage"
)

// faultyStore wraps a real store: Ingest can be held or failed, and Export can
// break off after some lines.
type faultyStore struct {
	collector.Store
	hold        chan struct{} // Ingest waits on it when not nil
	entered     chan struct{} // signalled when Ingest is entered
	ingestErr   error
	exportAfter int // Export fails after this many lines when > 0
}

func (f *faultyStore) IngestLogged(ctx context.Context, recs []storage.Record, now time.Time) ([]storage.Ingested, error) {
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.hold != nil {
		<-f.hold
	}
	if f.ingestErr != nil {
		return nil, f.ingestErr
	}
	return f.Store.IngestLogged(ctx, recs, now)
}

func (f *faultyStore) Export(ctx context.Context, flt storage.Filter, fn func([]byte) error) error {
	n := 0
	err := f.Store.Export(ctx, flt, func(line []byte) error {
		if f.exportAfter > 0 && n == f.exportAfter {
			return errors.New("disk on fire")
		}
		n++
		return fn(line)
	})
	return err
}

// serveStore serves st (wrapping db) on loopback.
func serveStore(t *testing.T, st collector.Store, db *storage.DB, cfg collector.Config) *collectortest.Collector {
	cfg.Store = st
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv := collector.NewServer(cfg)
	return &collectortest.Collector{URL: newTestServer(t, srv.Handler()), DB: db, Server: srv}
}

func TestBusyCollectorAnswers429WithRetryAfter(t *testing.T) {
	db := collectortest.OpenDB(t, collectortest.SQLite)
	fs := &faultyStore{Store: db, hold: make(chan struct{}), entered: make(chan struct{}, 2)}
	c := serveStore(t, fs, db, collector.Config{MaxConcurrentIngests: 1, IngestWait: 50 * time.Millisecond})
	p := collectortest.NewProbe(t)
	first := make(chan int, 1)
	go func() {
		status, _ := post(t, c, "application/json", p.SignSpec(t, webSpec("https://a.example/", t0)))
		first <- status
	}()
	<-fs.entered // the first upload holds the only slot
	req, _ := http.NewRequest(http.MethodPost, c.URL+"/api/v1/measurements", strings.NewReader(string(p.SignSpec(t, webSpec("https://b.example/", t0)))))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "10" {
		t.Errorf("second upload: %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
	close(fs.hold)
	if s := <-first; s != 200 {
		t.Errorf("first upload: %d", s)
	}
}

func TestStorageFailureIs503AndStoresNothing(t *testing.T) {
	db := collectortest.OpenDB(t, collectortest.SQLite)
	c := serveStore(t, &faultyStore{Store: db, ingestErr: errors.New("database is locked")}, db, collector.Config{})
	p := collectortest.NewProbe(t)
	status, a := post(t, c, "application/json", p.SignSpec(t, webSpec("https://a.example/", t0)))
	if status != http.StatusServiceUnavailable || strings.Contains(a.Error, "locked") {
		t.Errorf("%d %q: want 503 without internals", status, a.Error)
	}
	if got := stored(t, c); len(got) != 0 {
		t.Errorf("stored %v", got)
	}
}

func TestBrokenExportEndsWithErrorTrailerAndPullRefusesIt(t *testing.T) {
	db := collectortest.OpenDB(t, collectortest.SQLite)
	fill(t, serveStore(t, db, db, collector.Config{}))
	c := serveStore(t, &faultyStore{Store: db, exportAfter: 3}, db, collector.Config{})
	dir := t.TempDir()
	_, err := collector.Pull(context.Background(), nil, c.URL, url.Values{}, filepath.Join(dir, "x.jsonl"))
	if err == nil || !strings.Contains(err.Error(), "broke off after 3 lines") {
		t.Errorf("pull of a broken export: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("pull left %v", entries)
	}
}
