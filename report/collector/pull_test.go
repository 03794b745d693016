package collector_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
)

func TestPullWritesVerifiedExport(t *testing.T) {
	c := collectortest.New(t, collectortest.SQLite)
	samples := fill(t, c)
	out := filepath.Join(t.TempDir(), "kz.jsonl")
	res, err := collector.Pull(context.Background(), nil, c.URL, url.Values{"probe_cc": {"KZ"}, "test_name": {"connectivity"}}, out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	probes := map[string]bool{}
	for _, s := range samples { // fill uploads in start-time order per day, oldest first
		if s.spec.CC == "KZ" && s.spec.TestName == "connectivity" {
			want = append(want, s.line)
			probes[s.probe] = true
		}
	}
	if !bytes.Equal(got, ndjson(want...)) {
		t.Errorf("pulled file differs from the stored lines")
	}
	if res.Lines != len(want) || res.Probes != len(probes) {
		t.Errorf("result %+v, want %d lines from %d probes", res, len(want), len(probes))
	}
}

// fakeExport serves body as an export, with the given trailer ("" for none).
func fakeExport(t *testing.T, body []byte, trailer string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if trailer != "" {
			w.Header().Set("Trailer", collector.ExportTrailer)
		}
		w.Write(body)
		if trailer != "" {
			w.Header().Set(collector.ExportTrailer, trailer)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestPullRefusesBadOrIncompleteExports(t *testing.T) {
	p := collectortest.NewProbe(t)
	good := p.SignSpec(t, webSpec("https://a.example/", t0))
	forged := bytes.Replace(p.SignSpec(t, webSpec("https://b.example/", t0)), []byte(`"ok"`), []byte(`"blocked"`), 1)
	cases := []struct {
		name, trailer, errHas string
		body                  []byte
	}{
		{"forged line", "complete; count=2", "line 2 does not verify", ndjson(good, forged)},
		{"no status trailer", "", "incomplete", ndjson(good)},
		{"broken off", "error: export broke off after 1 lines", "incomplete", ndjson(good)},
		{"count mismatch", "complete; count=2", "incomplete", ndjson(good)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.jsonl")
			_, err := collector.Pull(context.Background(), nil, fakeExport(t, tc.body, tc.trailer), nil, out)
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.errHas)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("pull left %v behind", entries)
			}
		})
	}
	// An API error is reported with the collector's message.
	c := collectortest.New(t, collectortest.SQLite)
	_, err := collector.Pull(context.Background(), nil, c.URL, url.Values{"probe_cc": {"KAZ"}}, filepath.Join(t.TempDir(), "x"))
	if err == nil || !strings.Contains(err.Error(), "probe_cc") {
		t.Errorf("bad filter: %v", err)
	}
	if errors.Is(err, os.ErrNotExist) {
		t.Errorf("unexpected error kind: %v", err)
	}
}
