package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report"

	collectorfake "github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/collector/storage"
)

func TestSplitBundlesTravelInAnyOrder(t *testing.T) {
	bin := storageBinary(t)
	col := collectorfake.New(t, collectorfake.SQLite)
	e := newStorageEnv(t, bin, col.URL)
	bodies := make([]string, 40)
	for i := range bodies {
		bodies[i] = strings.Repeat(fmt.Sprintf("<p>measurement %d</p>", i), 20+i*3)
	}
	lines := e.seed(t, bodies)
	dir := t.TempDir()
	full := filepath.Join(dir, "full.jsonl")
	if out, errOut, code := e.run(t, "export", "--since", "30d", "-o", full); code != 0 {
		t.Fatalf("export: %d %s %s", code, out, errOut)
	}
	const limit = 20_000
	out, errOut, code := e.run(t, "export", "--since", "30d", "-o", filepath.Join(dir, "bundle.jsonl"), "--split-size", "20k")
	if code != 0 {
		t.Fatalf("split export: %d %s %s", code, out, errOut)
	}
	parts := strings.Fields(out)
	if len(parts) < 3 || parts[0] != filepath.Join(dir, "bundle.001.jsonl") {
		t.Fatalf("parts %v: the 40 lines of about 1-3 KB should need several 20 kB parts", parts)
	}
	var joined []byte
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > limit {
			t.Errorf("%s holds %d bytes, over the %d limit", p, len(b), limit)
		}
		if !bytes.HasSuffix(b, []byte("\n")) {
			t.Errorf("%s does not end with a whole line", p)
		}
		joined = append(joined, b...)
		if _, _, code := e.run(t, "verify", p); code != 0 {
			t.Errorf("vantage verify %s: exit %d: each part must be a bundle of its own", p, code)
		}
	}
	whole, _ := os.ReadFile(full)
	if !bytes.Equal(joined, whole) {
		t.Errorf("the parts joined (%d bytes) are not the unsplit export (%d bytes)", len(joined), len(whole))
	}

	// Upload the parts backwards, the first one twice: everything arrives once.
	args := []string{"upload"}
	for i := len(parts) - 1; i >= 0; i-- {
		args = append(args, "--bundle", parts[i])
	}
	args = append(args, "--bundle", parts[0])
	out, errOut, code = e.run(t, args...)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("%d distinct measurements; uploaded %d, already at the collector 0, rejected 0, waiting 0", len(lines), len(lines))) {
		t.Fatalf("bundle upload: exit %d\n%s%s", code, out, errOut)
	}
	assertCollectorHolds(t, col.DB, lines)
	// Again, in another order: all duplicates, nothing stored twice.
	out, errOut, code = e.run(t, "upload", "--bundle", parts[1], "--bundle", parts[0], "--bundle", parts[len(parts)-1])
	if code != 0 || !strings.Contains(out, "uploaded 0, already at the collector") || !strings.Contains(out, "waiting 0") {
		t.Fatalf("second bundle upload: exit %d\n%s%s", code, out, errOut)
	}
	assertCollectorHolds(t, col.DB, lines)

	// A damaged part is refused before anything is sent, naming file and line.
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, append(append([]byte{}, whole[:200]...), '\n'), 0o600)
	if out, errOut, code := e.run(t, "upload", "--bundle", bad); code != 2 || !strings.Contains(errOut, bad+":1:") {
		t.Errorf("damaged bundle: exit %d, %s%s; want 2 naming %s:1", code, out, errOut, bad)
	}
}

func assertCollectorHolds(t *testing.T, db *storage.DB, want map[string][]byte) {
	t.Helper()
	n := 0
	err := db.Export(context.Background(), storage.Filter{}, func(line []byte) error {
		n++
		found := false
		for _, l := range want {
			found = found || bytes.Equal(bytes.TrimSuffix(line, []byte("\n")), l)
		}
		if !found {
			t.Errorf("the collector holds a line the probe did not send: %.120s", line)
		}
		return nil
	})
	if err != nil || n != len(want) {
		t.Errorf("collector holds %d lines (%v), want %d", n, err, len(want))
	}
}

// lossyFront forwards each upload to the collector and then cuts the
// connection without answering: the collector stores the lines, the probe never
// sees the acknowledgement and falls back to its next route.
func lossyFront(t *testing.T, collector string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequest(r.Method, collector+r.URL.Path, r.Body)
		req.Header = r.Header.Clone()
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// slowRoute proxies to the collector, counting requests and holding each for
// delay first: the moment to kill the probe mid-fallback.
type slowRoute struct {
	srv      *httptest.Server
	requests atomic.Int64
	delay    atomic.Int64 // nanoseconds
}

func newSlowRoute(t *testing.T, collector string) *slowRoute {
	target, _ := url.Parse(collector)
	s := &slowRoute{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		select {
		case <-time.After(time.Duration(s.delay.Load())):
		case <-r.Context().Done():
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// TestKillDuringFallback SIGKILLs `vantage upload` while a batch moves from a
// route that lost the acknowledgement to the next one, three times, then lets it
// finish: nothing marked uploaded is missing at the collector, nothing is stored
// twice there, and in the end the collector holds exactly what the store holds.
func TestKillDuringFallback(t *testing.T) {
	bin := storageBinary(t)
	col := collectorfake.New(t, collectorfake.SQLite)
	front := lossyFront(t, col.URL)
	second := newSlowRoute(t, col.URL)
	second.delay.Store(int64(300 * time.Millisecond))
	e := newStorageEnv(t, bin, front.URL)
	cfg, _ := os.ReadFile(e.config)
	cfg = bytes.Replace(cfg, []byte(fmt.Sprintf("collector = %q\n", front.URL)),
		[]byte(fmt.Sprintf("collector = %q\ncollectors = [%q]\n", front.URL, second.srv.URL)), 1)
	if err := os.WriteFile(e.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	bodies := make([]string, 30)
	for i := range bodies {
		bodies[i] = fmt.Sprintf("<p>measurement %d</p>", i)
	}
	e.seed(t, bodies)
	for kill := 1; kill <= 3; kill++ {
		before := second.requests.Load()
		cmd := e.command(false, "upload", "--batch-size", "4")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The second route has the batch the first one lost: kill now.
		waitFor(t, cmd, func() bool { return second.requests.Load() > before })
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		uploaded := markedUploaded(t, e.dir)
		atCollector := collectorLines(t, col.DB)
		for uid := range uploaded {
			if _, ok := atCollector[uid]; !ok {
				t.Errorf("kill %d: %s is marked uploaded but not at the collector", kill, uid)
			}
		}
		t.Logf("kill %d: %d marked uploaded, %d at the collector", kill, len(uploaded), len(atCollector))
	}
	second.delay.Store(0)
	out, errOut, code := e.run(t, "upload", "--batch-size", "4")
	if code != 0 {
		t.Fatalf("upload after the kills: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "route "+front.URL+": failed") || !strings.Contains(out, "route "+second.srv.URL+": worked") {
		t.Errorf("upload output does not say which route failed and which worked:\n%s", out)
	}
	// Everything the store holds — the 30 and the collector_reachability
	// measurements of the lossy route — is at the collector once, byte for byte.
	st, err := store.Open(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	want := map[string][]byte{}
	reach := 0
	st.MeasurementsSince(context.Background(), time.Time{}, func(m store.StoredMeasurement) error {
		want[m.UID] = m.Line
		if m.TestName == "collector_reachability" {
			reach++
		}
		return nil
	})
	if qs, _ := st.QueueStats(context.Background()); qs.Pending != 0 || qs.Uploaded != len(want) {
		t.Errorf("queue %+v, want all %d uploaded", qs, len(want))
	}
	if reach < 1 || len(want) != 30+reach {
		t.Errorf("store holds %d measurements, %d of them collector_reachability", len(want), reach)
	}
	assertCollectorHolds(t, col.DB, want)
}

// collectorLines is what the collector holds, by uid.
func collectorLines(t *testing.T, db *storage.DB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := db.Export(context.Background(), storage.Filter{}, func(line []byte) error {
		s, err := report.ParseSigned(bytes.TrimSuffix(line, []byte("\n")))
		if err != nil {
			return err
		}
		if _, dup := out[s.MeasurementUID]; dup {
			t.Errorf("the collector holds %s twice", s.MeasurementUID)
		}
		out[s.MeasurementUID] = bytes.Clone(line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
