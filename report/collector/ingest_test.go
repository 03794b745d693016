package collector_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/collector/storage"
)

var t0 = time.Date(2022, 1, 5, 10, 0, 0, 0, time.UTC)

func spec(cc, asn, test, input, verdict, method string, at time.Time) collectortest.Spec {
	return collectortest.Spec{CC: cc, ASN: asn, TestName: test, Input: input, Start: at, Verdict: verdict, Method: method}
}

func webSpec(input string, at time.Time) collectortest.Spec {
	return spec("KZ", "AS9198", "web_connectivity", input, "ok", "", at)
}

type ingestAnswer struct {
	Stored     int    `json:"stored"`
	Duplicates int    `json:"duplicates"`
	Error      string `json:"error"`
	Line       int    `json:"line"`
	Results    []struct {
		UID       string `json:"measurement_uid"`
		Status    string `json:"status"`
		LeafIndex uint64 `json:"leaf_index"`
	} `json:"results"`
}

func post(t *testing.T, c *collectortest.Collector, ctype string, body []byte, header ...string) (int, ingestAnswer) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.URL+"/api/v1/measurements", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a ingestAnswer
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, raw)
	}
	return resp.StatusCode, a
}

func ndjson(lines ...[]byte) []byte {
	return append(bytes.Join(lines, []byte("\n")), '\n')
}

// stored returns the uids the store holds.
func stored(t *testing.T, c *collectortest.Collector) []string {
	t.Helper()
	rows, err := c.DB.List(context.Background(), storage.Filter{}, nil, storage.OldestFirst, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, r := range rows {
		uids = append(uids, r.UID)
	}
	return uids
}

func forEachBackend(t *testing.T, fn func(t *testing.T, backend string)) {
	for _, b := range collectortest.Backends {
		t.Run(b, func(t *testing.T) { fn(t, b) })
	}
}

func TestIngestStoresExactBytesAndIsIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		c := collectortest.New(t, backend)
		p := collectortest.NewProbe(t)
		line := p.SignSpec(t, webSpec("https://example.org/", t0))
		status, a := post(t, c, "application/json", line)
		if status != 200 || a.Stored != 1 || a.Duplicates != 0 || len(a.Results) != 1 || a.Results[0].Status != "stored" {
			t.Fatalf("first upload: %d %+v", status, a)
		}
		uid := a.Results[0].UID
		got := getBody(t, c.URL+"/api/v1/measurements/"+uid, 200)
		if !bytes.Equal(got, line) {
			t.Fatalf("stored bytes differ:\n got %s\nwant %s", got, line)
		}
		// The same bytes again (a probe resending after a lost answer), within a batch.
		other := p.SignSpec(t, webSpec("https://example.com/", t0))
		status, a = post(t, c, "application/x-ndjson", ndjson(line, other))
		if status != 200 || a.Stored != 1 || a.Duplicates != 1 || a.Results[0].Status != "duplicate" || a.Results[1].Status != "stored" {
			t.Fatalf("resend: %d %+v", status, a)
		}
		if n := len(stored(t, c)); n != 2 {
			t.Fatalf("store holds %d measurements, want 2", n)
		}
	})
}

func TestIngestAcceptsGzipBundle(t *testing.T) {
	c := collectortest.New(t, collectortest.SQLite)
	p := collectortest.NewProbe(t)
	var lines [][]byte
	for i := range 5 {
		lines = append(lines, p.SignSpec(t, webSpec("https://example.org/", t0.Add(time.Duration(i)*time.Minute))))
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(ndjson(lines...))
	zw.Close()
	status, a := post(t, c, "application/x-ndjson", buf.Bytes(), "Content-Encoding", "gzip")
	if status != 200 || a.Stored != 5 {
		t.Fatalf("gzip bundle: %d %+v", status, a)
	}
}

// rejection is an upload that must be refused with nothing stored.
type rejection struct {
	name   string
	ctype  string
	body   func(t *testing.T, p, other *collectortest.Probe, prior []byte) []byte
	header []string // extra request headers, name then value
	status int
	line   int // 0: the answer names no line
	errHas string
}

func rejections() []rejection {
	good := func(t *testing.T, p *collectortest.Probe) []byte {
		return p.SignSpec(t, webSpec("https://good.example/", t0.Add(time.Hour)))
	}
	return []rejection{{
		name: "forged signature", ctype: "application/x-ndjson", status: 400, line: 2, errHas: "signature",
		body: func(t *testing.T, p, _ *collectortest.Probe, _ []byte) []byte {
			forged := bytes.Replace(p.SignSpec(t, webSpec("https://a.example/", t0)), []byte(`"verdict":"ok"`), []byte(`"verdict":"no"`), 1)
			return ndjson(good(t, p), forged)
		},
	}, {
		name: "known key signing for another probe id", ctype: "application/x-ndjson", status: 400, line: 2, errHas: "probe_id",
		body: func(t *testing.T, p, other *collectortest.Probe, _ []byte) []byte {
			line := p.SignSpec(t, webSpec("https://a.example/", t0))
			return ndjson(good(t, p), bytes.Replace(line, []byte(p.ID), []byte(other.ID), 1))
		},
	}, {
		name: "replayed uid with other bytes", ctype: "application/x-ndjson", status: 409, line: 2, errHas: "different bytes",
		body: func(t *testing.T, p, _ *collectortest.Probe, prior []byte) []byte {
			s, err := report.Verify(prior)
			if err != nil {
				t.Fatal(err)
			}
			m := collectortest.NewMeasurement(webSpec("https://other.example/", t0))
			m.MeasurementUID = s.MeasurementUID
			return ndjson(good(t, p), p.Sign(t, m))
		},
	}, {
		name: "oversize line", ctype: "application/x-ndjson", status: 413, line: 2,
		body: func(t *testing.T, p, _ *collectortest.Probe, _ []byte) []byte {
			return ndjson(good(t, p), bytes.Repeat([]byte("x"), collector.MaxLineBytes+1))
		},
	}, {
		// Expect: 100-continue lets the collector refuse on Content-Length before the
		// body is sent, so the client never writes into a closed connection.
		name: "oversize body", ctype: "application/x-ndjson", status: 413, header: []string{"Expect", "100-continue"},
		body: func(t *testing.T, p, _ *collectortest.Probe, _ []byte) []byte {
			line := good(t, p)
			var lines [][]byte
			for n := 0; n <= collector.MaxRequestBytes; n += len(line) + 1 {
				lines = append(lines, line)
			}
			return ndjson(lines...)
		},
	}, {
		name: "oversize body once decompressed", ctype: "application/x-ndjson", status: 413,
		header: []string{"Content-Encoding", "gzip"},
		body: func(t *testing.T, p, _ *collectortest.Probe, _ []byte) []byte {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(ndjson(good(t, p)))
			// Blank lines: no single line is too long, only the whole body.
			blank := append(bytes.Repeat([]byte{' '}, 8<<20), '\n')
			for range collector.MaxRequestBytes/len(blank) + 1 {
				zw.Write(blank)
			}
			zw.Close()
			return buf.Bytes()
		},
	}, {
		name: "malformed JSON", ctype: "application/x-ndjson", status: 400, line: 3,
		body: func(t *testing.T, p, _ *collectortest.Probe, _ []byte) []byte {
			return ndjson(good(t, p), nil, []byte(`{"format":"vantage-signed-v1",`))
		},
	}, {
		name: "deeply nested JSON", ctype: "application/json", status: 400, line: 1, errHas: "nested",
		body: func(t *testing.T, p, _ *collectortest.Probe, _ []byte) []byte {
			m := collectortest.NewMeasurement(webSpec("https://a.example/", t0))
			var v any = "deep"
			for range collector.MaxJSONDepth {
				v = []any{v}
			}
			m.TestKeys = map[string]any{"verdict": "ok", "x": v}
			return p.Sign(t, m)
		},
	}, {
		name: "wrong content type", ctype: "text/plain", status: 415,
		body: func(t *testing.T, p, _ *collectortest.Probe, _ []byte) []byte { return good(t, p) },
	}, {
		name: "two lines as application/json", ctype: "application/json", status: 400,
		body: func(t *testing.T, p, _ *collectortest.Probe, _ []byte) []byte { return ndjson(good(t, p), good(t, p)) },
	}, {
		name: "empty body", ctype: "application/x-ndjson", status: 400,
		body: func(*testing.T, *collectortest.Probe, *collectortest.Probe, []byte) []byte { return []byte("\n\n") },
	}, {
		name: "lowercase probe_cc", ctype: "application/x-ndjson", status: 400, line: 2, errHas: "probe_cc",
		body: func(t *testing.T, p, _ *collectortest.Probe, _ []byte) []byte {
			return ndjson(good(t, p), p.SignSpec(t, spec("kz", "AS9198", "web_connectivity", "", "", "", t0)))
		},
	}, {
		name: "bad probe_asn", ctype: "application/x-ndjson", status: 400, line: 2, errHas: "probe_asn",
		body: func(t *testing.T, p, _ *collectortest.Probe, _ []byte) []byte {
			return ndjson(good(t, p), p.SignSpec(t, spec("KZ", "9198", "web_connectivity", "", "", "", t0)))
		},
	}, {
		name: "start time in the far future", ctype: "application/x-ndjson", status: 400, line: 2, errHas: "measurement_start_time",
		body: func(t *testing.T, p, _ *collectortest.Probe, _ []byte) []byte {
			return ndjson(good(t, p), p.SignSpec(t, webSpec("https://a.example/", time.Now().Add(72*time.Hour))))
		},
	}, {
		name: "missing test_name", ctype: "application/x-ndjson", status: 400, line: 2, errHas: "test_name",
		body: func(t *testing.T, p, _ *collectortest.Probe, _ []byte) []byte {
			return ndjson(good(t, p), p.SignSpec(t, spec("KZ", "AS9198", "", "", "", "", t0)))
		},
	}}
}

func TestIngestRejectsAndStoresNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		for _, tc := range rejections() {
			t.Run(tc.name, func(t *testing.T) {
				c := collectortest.New(t, backend)
				p, other := collectortest.NewProbe(t), collectortest.NewProbe(t)
				// Both probes are known to the collector before the attempt.
				prior := p.SignSpec(t, webSpec("https://prior.example/", t0))
				if status, a := post(t, c, "application/x-ndjson", ndjson(prior, other.SignSpec(t, webSpec("https://x.example/", t0)))); status != 200 {
					t.Fatalf("setup upload: %d %+v", status, a)
				}
				before := stored(t, c)
				status, a := post(t, c, tc.ctype, tc.body(t, p, other, prior), tc.header...)
				if status != tc.status {
					t.Fatalf("status %d, want %d (%+v)", status, tc.status, a)
				}
				if a.Line != tc.line {
					t.Errorf("answer names line %d, want %d (%q)", a.Line, tc.line, a.Error)
				}
				if !strings.Contains(a.Error, tc.errHas) {
					t.Errorf("error %q does not mention %q", a.Error, tc.errHas)
				}
				if after := stored(t, c); len(after) != len(before) {
					t.Errorf("store changed from %v to %v", before, after)
				}
			})
		}
	})
}

func TestIngestConcurrentSameUID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		c := collectortest.New(t, backend)
		p := collectortest.NewProbe(t)
		line := p.SignSpec(t, webSpec("https://example.org/", t0))
		const n = 4
		statuses := make(chan int, n)
		for range n {
			go func() {
				req, _ := http.NewRequest(http.MethodPost, c.URL+"/api/v1/measurements", bytes.NewReader(line))
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					statuses <- 0
					return
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			}()
		}
		for range n {
			if s := <-statuses; s != 200 {
				t.Errorf("concurrent upload answered %d", s)
			}
		}
		if got := stored(t, c); len(got) != 1 {
			t.Errorf("store holds %v, want one measurement", got)
		}
	})
}

func getBody(t *testing.T, u string, wantStatus int) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: %d, want %d: %s", u, resp.StatusCode, wantStatus, b)
	}
	return b
}
