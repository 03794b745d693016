package collector_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
)

// hostileFilterValues are strings an attacker puts in a query parameter: SQL
// injection in several dialects, LIKE wildcards (which must not match everything),
// path traversal, NUL and control bytes, shell and template syntax, and an
// over-long value.
var hostileFilterValues = []string{
	`' OR '1'='1`,
	`' OR 1=1 --`,
	`1; DROP TABLE measurements; --`,
	`" OR ""="`,
	`') UNION SELECT line FROM measurements --`,
	`%`,
	`_`,
	`%%`,
	`*`,
	`\`,
	`../../../../etc/passwd`,
	`..%2f..%2fetc%2fpasswd`,
	"\x00",
	"KZ\x00' OR 1=1",
	"\r\nX-Injected: 1",
	`$(reboot)`,
	`{{.}}`,
	strings.Repeat("A", 10000),
}

// hostileFilters are every filter of the list, export and aggregate endpoints.
var hostileFilters = []string{"probe_id", "probe_cc", "probe_asn", "test_name", "input", "domain", "verdict", "method", "since", "until"}

// TestHostileFilterValuesAreDataNotCode sends every hostile value in every filter of
// every query endpoint. Each answer must be a 400 naming the parameter or a correct
// empty result (nothing in the store matches such a value), never a 5xx or rows;
// and the store must hold exactly what it held before.
func TestHostileFilterValuesAreDataNotCode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		c := collectortest.New(t, backend)
		fill(t, c)
		before := stored(t, c)
		for _, endpoint := range []string{"/api/v1/measurements", "/api/v1/export", "/api/v1/aggregate"} {
			for _, param := range hostileFilters {
				for _, value := range hostileFilterValues {
					status, body := get(t, c.URL+endpoint+"?"+url.Values{param: {value}}.Encode())
					if !emptyOrNamed400(endpoint, status, body, param) {
						t.Errorf("GET %s?%s=%.40q: %d %.200s", endpoint, param, value, status, body)
					}
				}
			}
		}
		if after := stored(t, c); !sameStrings(before, after) {
			t.Errorf("store changed: %d rows before, %d after", len(before), len(after))
		}
	})
}

// emptyOrNamed400 reports whether an answer is a refusal naming param or a success
// that carries no measurement.
func emptyOrNamed400(endpoint string, status int, body []byte, param string) bool {
	switch {
	case status == http.StatusBadRequest:
		return bytes.Contains(body, []byte(`"param":"`+param+`"`))
	case status != http.StatusOK:
		return false
	case endpoint == "/api/v1/export":
		return len(bytes.TrimSpace(body)) == 0
	default:
		// The list's and the aggregate's rows are under "results" (or "buckets").
		compact := strings.Join(strings.Fields(string(body)), "")
		return !strings.Contains(compact, `"measurement_uid"`) && !strings.Contains(compact, `"count":`)
	}
}

func get(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestInjectionStringsStoredAsMeasurementDataRoundTrip: a measurement whose input
// is itself an injection string is stored as data, found by an exact filter on that
// string (and only it), and served back byte for byte.
func TestInjectionStringsStoredAsMeasurementDataRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		c := collectortest.New(t, backend)
		fill(t, c)
		p := collectortest.NewProbe(t)
		input := `https://evil.example/?q=' OR 1=1; DROP TABLE measurements; --&p=../../etc/passwd%00`
		line := p.SignSpec(t, webSpec(input, t0.Add(time.Hour)))
		if status, a := post(t, c, "application/json", line); status != 200 || a.Stored != 1 {
			t.Fatalf("upload: %d %+v", status, a)
		}
		uids := listAll(t, c, url.Values{"input": {input}}, 10)
		sig, _ := report.Verify(line)
		if len(uids) != 1 || uids[0] != sig.MeasurementUID {
			t.Fatalf("exact input filter found %v, want only %s", uids, sig.MeasurementUID)
		}
		if got := getBody(t, c.URL+"/api/v1/measurements/"+url.PathEscape(sig.MeasurementUID), 200); !bytes.Equal(bytes.TrimSpace(got), line) {
			t.Errorf("served line differs from the uploaded one")
		}
		if n := len(stored(t, c)); n != 31+1 {
			t.Errorf("store holds %d rows, want the 31 of fill and this one", n)
		}
	})
}

// TestReplayedLinesAreDuplicatesNotNewRows: the same signed bytes sent again, alone,
// in a batch with new lines, or gzip-free after a gzip upload, are acknowledged as
// duplicates and never stored twice.
func TestReplayedLinesAreDuplicatesNotNewRows(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		c := collectortest.New(t, backend)
		p := collectortest.NewProbe(t)
		a1 := p.SignSpec(t, webSpec("https://a.example/", t0))
		b1 := p.SignSpec(t, webSpec("https://b.example/", t0.Add(time.Minute)))
		if status, a := post(t, c, "application/json", a1); status != 200 || a.Stored != 1 {
			t.Fatalf("first upload: %d %+v", status, a)
		}
		for range 3 {
			if status, a := post(t, c, "application/json", a1); status != 200 || a.Stored != 0 || a.Duplicates != 1 {
				t.Fatalf("replay: %d %+v, want 200 with one duplicate", status, a)
			}
		}
		status, a := post(t, c, "application/x-ndjson", ndjson(a1, b1, a1))
		if status != 200 || a.Stored != 1 || a.Duplicates != 2 {
			t.Fatalf("batch with replays: %d %+v, want 1 stored and 2 duplicates", status, a)
		}
		if n := len(stored(t, c)); n != 2 {
			t.Errorf("store holds %d rows, want 2", n)
		}
	})
}

// TestFloodOfSmallUploadsIsHeld sends many small uploads at once from a handful of
// clients. Every answer must be 200 or 429 with Retry-After (never a 5xx or a
// dropped connection), and the store must hold exactly the measurements
// acknowledged. The figure (uploads per second held) goes in the log for
// docs/security.md; it is not asserted.
func TestFloodOfSmallUploadsIsHeld(t *testing.T) {
	const clients, perClient = 8, 40
	c := collectortest.New(t, collectortest.SQLite)
	p := collectortest.NewProbe(t)
	lines := make([][]byte, clients*perClient)
	for i := range lines {
		lines[i] = p.SignSpec(t, webSpec("https://flood.example/", t0.Add(time.Duration(i)*time.Second)))
	}
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		acked    = map[string]bool{}
		wg       sync.WaitGroup
	)
	start := time.Now()
	for cl := range clients {
		wg.Go(func() {
			for i := cl * perClient; i < (cl+1)*perClient; i++ {
				status, retryAfter := postRaw(c.URL, lines[i])
				mu.Lock()
				statuses[status]++
				if status == 200 {
					sig, _ := report.Verify(lines[i])
					acked[sig.MeasurementUID] = true
				} else if status != http.StatusTooManyRequests || retryAfter == "" {
					t.Errorf("upload %d: status %d, Retry-After %q", i, status, retryAfter)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	got := stored(t, c)
	if len(got) != len(acked) {
		t.Errorf("store holds %d, %d were acknowledged", len(got), len(acked))
	}
	for _, uid := range got {
		if !acked[uid] {
			t.Errorf("stored %s without acknowledging it", uid)
		}
	}
	if statuses[200] == 0 {
		t.Errorf("no upload succeeded: %v", statuses)
	}
	t.Logf("flood: %d uploads from %d clients in %v (%.0f/s): statuses %v", len(lines), clients, elapsed.Round(time.Millisecond), float64(len(lines))/elapsed.Seconds(), statuses)
}

// postRaw uploads one line and returns the status (0 for a transport error) and
// the Retry-After header.
func postRaw(base string, line []byte) (int, string) {
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/measurements", bytes.NewReader(line))
	if err != nil {
		return 0, ""
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}
