package collector_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
	if st := getJSON(t, c.URL+"/api/v1/export?format=xml", &e); st != 400 || e.Param != "format" {
		t.Errorf("format=xml: %d %+v", st, e)
	}
}

// TestExportCSV serves one row per measurement under a header, quoted as RFC
// 4180 says, with the verdict columns and OONI's view of them.
func TestExportCSV(t *testing.T) {
	c := collectortest.New(t, collectortest.SQLite)
	p := collectortest.NewProbe(t)
	m := collectortest.NewMeasurement(webSpec(`https://a.example/?q="x",y`, t0))
	m.TestKeys = map[string]any{"verdict": "blocked", "method": "tls.mitm", "reason": map[string]any{"odd": 1}}
	if status, a := post(t, c, "application/json", p.Sign(t, m)); status != 200 {
		t.Fatalf("upload: %d %s", status, a.Error)
	}
	resp, err := http.Get(c.URL + "/api/v1/export?format=csv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || resp.Trailer.Get(collector.ExportTrailer) != "complete; count=1" {
		t.Errorf("content type %q, trailer %q", resp.Header.Get("Content-Type"), resp.Trailer.Get(collector.ExportTrailer))
	}
	if len(rows) != 2 || !slices.Equal(rows[0], collector.CSVColumns) {
		t.Fatalf("rows %q", rows)
	}
	got := map[string]string{}
	for i, col := range rows[0] {
		got[col] = rows[1][i]
	}
	want := map[string]string{"measurement_uid": m.MeasurementUID, "probe_id": p.ID, "probe_cc": "KZ", "probe_asn": "AS9198",
		"test_name": "web_connectivity", "input": `https://a.example/?q="x",y`, "measurement_start_time": "2022-01-05 10:00:00",
		"report_id": m.ReportID, "software_version": "test", "test_version": "0.1.0", "verdict": "blocked", "method": "tls.mitm",
		"reason": "", "ooni_blocking": "http-failure", "ooni_accessible": "false", "probe_network_name": ""}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}

// TestListNextURL gives the next page's URL beside the cursor, and following it
// reads every row once.
func TestListNextURL(t *testing.T) {
	c := collectortest.New(t, collectortest.SQLite)
	p := collectortest.NewProbe(t)
	for i := range 5 {
		post(t, c, "application/json", p.SignSpec(t, webSpec("https://n.example/", t0.Add(time.Duration(i)*time.Minute))))
	}
	seen := 0
	u := c.URL + "/api/v1/measurements?probe_cc=KZ&limit=2"
	for pages := 0; u != ""; pages++ {
		var page struct {
			Results    []json.RawMessage `json:"results"`
			NextCursor *string           `json:"next_cursor"`
			NextURL    *string           `json:"next_url"`
		}
		if st := getJSON(t, u, &page); st != 200 || pages > 3 {
			t.Fatalf("page %d: %d", pages, st)
		}
		seen += len(page.Results)
		u = ""
		if page.NextURL != nil {
			if page.NextCursor == nil || !strings.Contains(*page.NextURL, "probe_cc=KZ") || !strings.Contains(*page.NextURL, "limit=2") {
				t.Fatalf("next_url %q cursor %v", *page.NextURL, page.NextCursor)
			}
			u = c.URL + *page.NextURL
		}
	}
	if seen != 5 {
		t.Errorf("followed next_url over %d rows, want 5", seen)
	}
}

// TestAggregateCSV gives the same buckets as the JSON answer, as CSV.
func TestAggregateCSV(t *testing.T) {
	c := collectortest.New(t, collectortest.SQLite)
	p := collectortest.NewProbe(t)
	for i, v := range []string{"ok", "blocked", "blocked"} {
		post(t, c, "application/json", p.SignSpec(t, spec("KZ", "AS9198", "web_connectivity", fmt.Sprintf("https://g%d.example/", i), v, "", t0)))
	}
	resp, err := http.Get(c.URL + "/api/v1/aggregate?by=day,verdict&format=csv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"day", "verdict", "count"}, {"2022-01-05", "blocked", "2"}, {"2022-01-05", "ok", "1"}}
	if len(rows) != len(want) {
		t.Fatalf("rows %q, want %q", rows, want)
	}
	for i := range want {
		if !slices.Equal(rows[i], want[i]) {
			t.Errorf("row %d %q, want %q", i, rows[i], want[i])
		}
	}
	var e struct{ Error, Param string }
	if st := getJSON(t, c.URL+"/api/v1/aggregate?format=xml", &e); st != 400 || e.Param != "format" {
		t.Errorf("format=xml: %d %+v", st, e)
	}
}
