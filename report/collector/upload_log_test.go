package collector_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/translog"
	"github.com/vantage-probe/vantage/report/upload"
)

// TestProbeChecksItsUploadsAreLogged runs the probe's upload client against the
// real collector and then CheckLog: every acknowledged measurement is proved in
// the signed checkpoint. Against a collector (same key and URL) that lost them,
// or answers from another history, the check fails naming the collector and the
// measurement.
func TestProbeChecksItsUploadsAreLogged(t *testing.T) {
	key, _, _ := translog.NewKey("vantage-collector-probetest")
	fc := newFileCollector(t, key)
	sw := &swap{}
	sw.set(fc.srv.Handler())
	hs := httptest.NewServer(sw)
	t.Cleanup(hs.Close)
	p := collectortest.NewProbe(t)
	state := filepath.Join(t.TempDir(), "logs.json")
	drain := func(from, n int) upload.Result {
		q := &memQueue{rejected: map[string]string{}}
		for i := range n {
			line := p.SignSpec(t, webSpec(fmt.Sprintf("https://site%d.example/", from+i), t0.Add(time.Duration(from+i)*time.Minute)))
			s, _ := report.Verify(line)
			q.pending = append(q.pending, upload.Pending{UID: s.MeasurementUID, Line: line})
		}
		client := &upload.Client{Collector: hs.URL, BatchSize: 7, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}
		res, err := client.Drain(context.Background(), q)
		if err != nil || res.Uploaded != n || len(res.Logged) != n {
			t.Fatalf("drain: %+v %v", res, err)
		}
		return res
	}
	check := func(res upload.Result) []upload.LogFailure {
		client := &upload.Client{Collector: hs.URL}
		return client.CheckLog(context.Background(), res, state)
	}
	res := drain(0, 20)
	if f := check(res); len(f) != 0 {
		t.Fatalf("check after upload: %v", f)
	}
	if f := check(drain(20, 5)); len(f) != 0 {
		t.Fatalf("second check after upload: %v", f)
	}
	// The same measurements acknowledged again, checked against a collector that
	// does not hold them: another store under the same key and URL, with as many
	// leaves as the remembered checkpoint (a fork), then with more.
	fork := newFileCollector(t, key)
	fork.upload(t, signed(t, p, 25, 500)...)
	sw.set(fork.srv.Handler())
	f := check(res)
	if len(f) != 1 || f[0].Collector != hs.URL || !strings.Contains(f[0].Error(), "forked log") {
		t.Fatalf("check against a fork: %v", f)
	}
	fork.upload(t, signed(t, p, 1, 600)...)
	f = check(res)
	if len(f) != 1 || !strings.Contains(f[0].Error(), "not an extension") {
		t.Fatalf("check against a grown fork: %v", f)
	}
	// A fresh state (no history to compare): the lost measurement is named.
	state = filepath.Join(t.TempDir(), "fresh.json")
	f = check(res)
	if len(f) != 1 || f[0].Unchecked || !strings.Contains(f[0].Error(), "no leaf for measurement_uid") {
		t.Fatalf("check against a collector that lost them: %v", f)
	}
	// A path that does not reach the log (a 503, a page that is not the
	// collector's) proves nothing: unchecked, not a failure.
	for _, h := range []http.HandlerFunc{
		func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) },
		func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>portal</html>")) },
	} {
		sw.set(h)
		state = filepath.Join(t.TempDir(), "fresh.json")
		if f = check(res); len(f) != 1 || !f[0].Unchecked {
			t.Errorf("check over a path without the log: %+v", f)
		}
	}
}
