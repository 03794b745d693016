package collector_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/collector/storage"
	"github.com/vantage-probe/vantage/report/sqlitedb"
	"github.com/vantage-probe/vantage/report/translog"
)

// fileCollector is a collector on a sqlite file that the test can also change
// behind its back, with direct SQL.
type fileCollector struct {
	URL  string
	path string
	srv  *collector.Server
	db   *storage.DB
}

// swap serves whichever handler it holds, so one URL can become another
// collector (a fork).
type swap struct{ h atomic.Pointer[http.Handler] }

func (s *swap) set(h http.Handler) { s.h.Store(&h) }

func (s *swap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

func newFileCollector(t *testing.T, key *translog.Key) *fileCollector {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := storage.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	srv := collector.NewServer(collector.Config{Store: db, LogKey: key})
	return &fileCollector{path: path, srv: srv, db: db}
}

func (fc *fileCollector) upload(t *testing.T, lines ...[]byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/measurements", bytes.NewReader(ndjson(lines...)))
	req.Header.Set("Content-Type", collector.ContentTypeNDJSON)
	rec := httptest.NewRecorder()
	fc.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("upload: %d %s", rec.Code, rec.Body)
	}
}

func (fc *fileCollector) exec(t *testing.T, queries ...string) {
	t.Helper()
	raw, err := sql.Open(sqlitedb.DriverName, fc.path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range queries {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func signed(t *testing.T, p *collectortest.Probe, n int, from int) [][]byte {
	var out [][]byte
	for i := range n {
		out = append(out, p.SignSpec(t, webSpec(fmt.Sprintf("https://s%d.example/", from+i), t0.Add(time.Duration(from+i)*time.Minute))))
	}
	return out
}

func pullLogged(t *testing.T, url, state string) (collector.PullResult, string, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "all.jsonl")
	res, err := collector.PullWith(context.Background(), nil, url, nil, out,
		collector.PullOptions{LogState: state, ProofFile: out + ".log.json"})
	return res, out, err
}

func TestPullChecksTheLog(t *testing.T) {
	key, _, _ := translog.NewKey("vantage-collector-pulltest")
	fc := newFileCollector(t, key)
	sw := &swap{}
	sw.set(fc.srv.Handler())
	hs := httptest.NewServer(sw)
	t.Cleanup(hs.Close)
	p := collectortest.NewProbe(t)
	fc.upload(t, signed(t, p, 5, 0)...)
	state := filepath.Join(t.TempDir(), "state.json")

	res, out, err := pullLogged(t, hs.URL, state)
	if err != nil || res.Log == nil || res.Log.Size != 5 || !res.LogFirstUse {
		t.Fatalf("first pull: %+v %v", res, err)
	}
	pf, err := translog.ReadProofFile(out + ".log.json")
	if err != nil || len(pf.Proofs) != 5 || pf.VerifierKey != key.VerifierKey() {
		t.Fatalf("proof file: %+v %v", pf, err)
	}
	fc.upload(t, signed(t, p, 3, 5)...)
	if res, _, err = pullLogged(t, hs.URL, state); err != nil || res.Log.Size != 8 || res.LogFirstUse {
		t.Fatalf("second pull: %+v %v", res, err)
	}

	t.Run("a stored measurement replaced behind the collector's back", func(t *testing.T) {
		// Another measurement, validly signed by the same probe, under the uid of
		// one already logged: every signature verifies, the log does not.
		uids := storedUIDs(t, fc.db)
		m := collectortest.NewMeasurement(webSpec("https://s2.example/", t0.Add(2*time.Minute)))
		m.MeasurementUID = uids[2]
		m.TestKeys = map[string]any{"verdict": "blocked", "method": "dns.nxdomain"}
		forged := p.Sign(t, m)
		orig, err := fc.db.Line(context.Background(), uids[2])
		if err != nil {
			t.Fatal(err)
		}
		const update = `UPDATE lines SET line = X'%x' WHERE id = (SELECT id FROM measurements WHERE uid = '%s')`
		fc.exec(t, fmt.Sprintf(update, forged, uids[2]))
		defer fc.exec(t, fmt.Sprintf(update, orig, uids[2]))
		_, out, err = pullLogged(t, hs.URL, state)
		if err == nil || !strings.Contains(err.Error(), "measurement "+uids[2]) || !strings.Contains(err.Error(), "not those logged at leaf 2") {
			t.Fatalf("pull after the change: %v", err)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("a bundle was written: %v", err)
		}
	})
	t.Run("a stored measurement deleted behind the collector's back", func(t *testing.T) {
		uids := storedUIDs(t, fc.db)
		id := fmt.Sprintf(`(SELECT id FROM measurements WHERE uid = '%s')`, uids[6])
		fc.exec(t, `DELETE FROM log_leaves WHERE measurement_id = `+id, `DELETE FROM lines WHERE id = `+id, `DELETE FROM measurements WHERE id = `+id)
		_, _, err := pullLogged(t, hs.URL, state)
		if err == nil || !strings.Contains(err.Error(), "missing from the export (leaves 6)") {
			t.Fatalf("pull after the deletion: %v", err)
		}
	})
	t.Run("a forked history", func(t *testing.T) {
		// Another store under the same key and URL, holding as many measurements
		// as the checkpoint remembered: same size, another root.
		fork := newFileCollector(t, key)
		fork.upload(t, signed(t, p, 8, 100)...)
		sw.set(fork.srv.Handler())
		_, _, err := pullLogged(t, hs.URL, state)
		if err == nil || !strings.Contains(err.Error(), "forked log: two checkpoints of size 8") {
			t.Fatalf("pull from the fork: %v", err)
		}
		// One more measurement in the fork: a larger log that does not extend
		// the one remembered.
		fork.upload(t, signed(t, p, 1, 200)...)
		_, _, err = pullLogged(t, hs.URL, state)
		if err == nil || !strings.Contains(err.Error(), "not an extension of the one of size 8") {
			t.Fatalf("pull from the grown fork: %v", err)
		}
	})
	t.Run("another key", func(t *testing.T) {
		other, _, _ := translog.NewKey("vantage-collector-pulltest")
		sw.set(newFileCollector(t, other).srv.Handler())
		_, _, err := pullLogged(t, hs.URL, state)
		if err == nil || !strings.Contains(err.Error(), "checkpoint signature") {
			t.Fatalf("pull with another key: %v", err)
		}
	})
}

func storedUIDs(t *testing.T, db *storage.DB) []string {
	t.Helper()
	rows, err := db.List(context.Background(), storage.Filter{}, nil, storage.OldestFirst, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, r := range rows {
		uids = append(uids, r.UID)
	}
	return uids
}
