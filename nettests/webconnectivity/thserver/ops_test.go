package thserver

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// metricValue is the value of the exposition line "name{labels} value" (labels as
// written by the client library, "" for none); -1 when absent.
func metricValue(t *testing.T, base, series string) float64 {
	t.Helper()
	_, body := getBody(t, base+PathMetrics)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %v", series, err)
	}
	return v
}

func getBody(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestOpsReportInFlightQueueAndReadiness(t *testing.T) {
	release := make(chan struct{})
	var entered sync.WaitGroup
	entered.Add(1)
	var once sync.Once
	h, err := New(Config{MaxInFlight: 1, QueueWait: time.Hour, AllowPrivate: true, // the queued request waits
		Lookup: func(ctx context.Context, host string) ([]string, error) {
			once.Do(entered.Done)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return []string{"127.0.0.1"}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	srv := httptest.NewServer(OpsHandler(h, slog.New(slog.NewJSONHandler(&logs, nil))))
	t.Cleanup(srv.Close)

	if code, _ := getBody(t, srv.URL+PathReady); code != 200 {
		t.Fatalf("ready when idle: %d", code)
	}
	body := `{"http_request":"http://` + siteName + `/","tcp_connect":[]}`
	var done sync.WaitGroup
	for range 2 {
		done.Go(func() {
			resp, err := http.Post(srv.URL+"/", "application/json", strings.NewReader(body))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	entered.Wait() // one request measures
	for h.Stats().Waiting == 0 {
		runtime.Gosched() // the other queues
	}
	if v := metricValue(t, srv.URL, "vantage_helper_in_flight"); v != 1 {
		t.Errorf("in flight %v, want 1", v)
	}
	if v := metricValue(t, srv.URL, "vantage_helper_waiting"); v != 1 {
		t.Errorf("waiting %v, want 1", v)
	}
	if code, body := getBody(t, srv.URL+PathReady); code != 503 || !strings.Contains(body, "slot") {
		t.Errorf("ready while saturated: %d %s, want 503", code, body)
	}
	if code, _ := getBody(t, srv.URL+PathHealth); code != 200 {
		t.Errorf("healthz while saturated: %d, want 200", code)
	}
	close(release)
	done.Wait()
	if v := metricValue(t, srv.URL, `vantage_helper_requests_total{code="200",method="POST"}`); v != 2 {
		t.Errorf("POST 200 counted %v, want 2", v)
	}
	if v := metricValue(t, srv.URL, "vantage_helper_in_flight"); v != 0 {
		t.Errorf("in flight after %v, want 0", v)
	}
	if v := metricValue(t, srv.URL, "vantage_helper_request_duration_seconds_count"); v != 2 {
		t.Errorf("durations observed %v, want 2", v)
	}
	if code, _ := getBody(t, srv.URL+PathReady); code != 200 {
		t.Errorf("ready once drained: %d", code)
	}
	if n := strings.Count(logs.String(), `"path":"/","status":200`); n != 2 {
		t.Errorf("%d access-log lines of the measurements, want 2:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "127.0.0.1") {
		t.Errorf("access log holds a full client address:\n%s", logs.String())
	}
}
