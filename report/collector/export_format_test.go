package collector_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
)

// TestExportOONIFormat serves the same measurements as OONI-shaped lines (from the
// collector, and converted by pull after verification): blocking holds only OONI's
// values, vantage's verdict its own key.
func TestExportOONIFormat(t *testing.T) {
	c := collectortest.New(t, collectortest.SQLite)
	p := collectortest.NewProbe(t)
	want := map[string]any{} // input → OONI blocking
	for _, tc := range []struct {
		input, verdict, method, blocking string
		ooni                             any
	}{
		{"https://q.example/", "blocked", "quic.blocked", "quic", "http-failure"},
		{"https://s.example/", "throttled", "", "throttled", false},
		{"https://d.example/", "blocked", "dns.nxdomain", "dns", "dns"},
	} {
		m := collectortest.NewMeasurement(webSpec(tc.input, t0))
		m.TestKeys = map[string]any{"verdict": tc.verdict, "method": tc.method, "blocking": tc.blocking, "accessible": true}
		if status, a := post(t, c, "application/json", p.Sign(t, m)); status != 200 {
			t.Fatalf("upload: %d %s", status, a.Error)
		}
		want[tc.input] = tc.ooni
	}
	check := func(name string, lines [][]byte) {
		if len(lines) != len(want) {
			t.Fatalf("%s: %d lines, want %d", name, len(lines), len(want))
		}
		for _, l := range lines {
			var v struct {
				Input     string         `json:"input"`
				Signature string         `json:"signature"`
				TestKeys  map[string]any `json:"test_keys"`
			}
			if err := json.Unmarshal(l, &v); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if v.TestKeys["blocking"] != want[v.Input] || v.TestKeys["x_vantage_verdict"] == nil || v.Signature != "" {
				t.Errorf("%s: %s: blocking %v, x_vantage_verdict %v, envelope %q", name, v.Input, v.TestKeys["blocking"], v.TestKeys["x_vantage_verdict"], v.Signature)
			}
		}
	}
	resp, err := http.Get(c.URL + "/api/v1/export?format=ooni")
	if err != nil {
		t.Fatal(err)
	}
	var served [][]byte
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		served = append(served, append([]byte(nil), sc.Bytes()...))
	}
	resp.Body.Close()
	if resp.Trailer.Get(collector.ExportTrailer) != "complete; count=3" {
		t.Errorf("trailer %q", resp.Trailer.Get(collector.ExportTrailer))
	}
	check("export", served)

	out := filepath.Join(t.TempDir(), "ooni.jsonl")
	if _, err := collector.PullWith(context.Background(), nil, c.URL, nil, out, collector.PullOptions{Format: collector.FormatOONI}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(out)
	defer f.Close()
	var pulled [][]byte
	sc = bufio.NewScanner(f)
	for sc.Scan() {
		pulled = append(pulled, append([]byte(nil), sc.Bytes()...))
	}
	check("pull", pulled)

	var e struct{ Error, Param string }
	if st := getJSON(t, c.URL+"/api/v1/export?format=csv", &e); st != 400 || e.Param != "format" {
		t.Errorf("format=csv: %d %+v", st, e)
	}
}
