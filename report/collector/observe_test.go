package collector_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
)

// scrape reads the collector's /metrics.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + collector.PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	return fams
}

// value is the counter, gauge or histogram count of the series of name whose
// labels include all of labels (pairs); -1 when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func TestMetricsCountIngestQueriesAndRefusals(t *testing.T) {
	var logs bytes.Buffer
	c := collectortest.NewWithConfig(t, collectortest.SQLite, collector.Config{
		Logger:    slog.New(slog.NewJSONHandler(&logs, nil)),
		RateLimit: &collector.RateLimit{IngestRate: 1e-6, IngestBurst: 2, ReadRate: 1e-6, ReadBurst: 3},
	})
	before := scrape(t, c.URL)
	if v := value(before, "vantage_collector_ingest_measurements_total", "outcome", "stored"); v > 0 {
		t.Fatalf("stored before any upload: %v", v)
	}
	p := collectortest.NewProbe(t)
	var batch []byte
	for i := range 3 {
		batch = append(batch, p.SignSpec(t, webSpec("https://example.org/"+string(rune('a'+i)), t0))...)
		batch = append(batch, '\n')
	}
	if st, a := post(t, c, collector.ContentTypeNDJSON, batch); st != 200 || a.Stored != 3 {
		t.Fatalf("first upload: %d %+v", st, a)
	}
	if st, a := post(t, c, collector.ContentTypeNDJSON, batch); st != 200 || a.Duplicates != 3 {
		t.Fatalf("replay: %d %+v", st, a)
	}
	if st, _ := post(t, c, collector.ContentTypeNDJSON, []byte("{not json\n")); st != 400 {
		t.Fatalf("bad line: %d", st)
	}
	if st, _ := post(t, c, collector.ContentTypeNDJSON, batch); st != 429 { // the key's burst of 2 is spent
		t.Fatalf("third upload of one key: %d, want 429", st)
	}
	codes := map[int]int{}
	for range 5 {
		resp, err := http.Get(c.URL + "/api/v1/measurements")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	if codes[200] != 3 || codes[429] != 2 {
		t.Fatalf("list answers %v, want 3×200 then 2×429", codes)
	}

	after := scrape(t, c.URL)
	for _, want := range []struct {
		name   string
		labels []string
		v      float64
	}{
		{"vantage_collector_ingest_measurements_total", []string{"outcome", "stored"}, 3},
		{"vantage_collector_ingest_measurements_total", []string{"outcome", "duplicate"}, 3},
		{"vantage_collector_ingest_batch_measurements", nil, 2},
		{"vantage_collector_ingest_refused_total", []string{"reason", "invalid"}, 1},
		{"vantage_collector_ingest_refused_total", []string{"reason", "rate_limited"}, 1},
		{"vantage_collector_rate_limited_total", []string{"bucket", "ingest"}, 1},
		{"vantage_collector_rate_limited_total", []string{"bucket", "read"}, 2},
		{"vantage_collector_requests_total", []string{"route", "GET /api/v1/measurements", "code", "200"}, 3},
		{"vantage_collector_requests_total", []string{"route", "POST /api/v1/measurements", "code", "200"}, 2},
		{"vantage_collector_request_duration_seconds", []string{"route", "POST /api/v1/measurements"}, 4},
		{"vantage_collector_db_max_open_connections", []string{"pool", "write"}, 2},
		{"vantage_collector_db_max_open_connections", []string{"pool", "read"}, 4},
	} {
		if got := value(after, want.name, want.labels...); got != want.v {
			t.Errorf("%s%v = %v, want %v", want.name, want.labels, got, want.v)
		}
	}
	if h := after["vantage_collector_ingest_batch_measurements"].Metric[0].Histogram; h.GetSampleSum() != 6 {
		t.Errorf("batch sizes sum to %v, want 6", h.GetSampleSum())
	}
	// The scrapes are neither rate limited nor spend the read budget.
	if got := value(after, "vantage_collector_requests_total", "route", "GET /metrics", "code", "200"); got != 1 {
		t.Errorf("metrics scrapes counted %v, want 1 (the first; this one is being answered)", got)
	}

	// One access-log line per request, with a truncated client address.
	n := strings.Count(logs.String(), `"msg":"request"`)
	if n != 11 { // 2 scrapes, 4 uploads, 5 lists
		t.Errorf("%d access-log lines, want 11:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `"client":"127.0.0.0/24"`) || strings.Contains(logs.String(), "127.0.0.1") {
		t.Errorf("access log does not keep the client as 127.0.0.0/24 only:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"method":"POST","path":"/api/v1/measurements","status":429`) {
		t.Errorf("access log misses the refused upload:\n%s", logs.String())
	}
}

func TestHealthAndReadyOnSQLite(t *testing.T) {
	c := collectortest.New(t, collectortest.SQLite)
	for _, path := range []string{collector.PathHealth, collector.PathReady} {
		code, body := get(t, c.URL+path)
		if code != 200 {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
}
