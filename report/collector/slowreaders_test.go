//go:build !windows

package collector_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
)

// slowReader asks for the whole export through a tiny receive window and then
// stops reading, holding the connection open until the test ends.
func slowReader(t *testing.T, base string) {
	t.Helper()
	u, _ := url.Parse(base)
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	conn, err := d.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /api/v1/export HTTP/1.1\r\nHost: %s\r\n\r\n", u.Host)
	// Read the status line (the export has begun, or was refused), then stall.
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := bufio.NewReaderSize(conn, 16).ReadString('\n'); err != nil {
		t.Fatalf("slow reader: %v", err)
	}
}

// TestSlowReadersStarveNothing: exports to clients that stop reading used to hold
// a pooled database connection each (the lines were written inside rows.Next()),
// so four froze a sqlite collector and sixteen a PostgreSQL one. With as many and
// twice as many slow readers, list queries and uploads must all be answered.
func TestSlowReadersStarveNothing(t *testing.T) {
	for _, tc := range []struct {
		backend string
		readers int
	}{{collectortest.SQLite, 4}, {collectortest.SQLite, 8}, {collectortest.Postgres, 16}, {collectortest.Postgres, 32}} {
		t.Run(fmt.Sprintf("%s/%d", tc.backend, tc.readers), func(t *testing.T) {
			c := collectortest.NewWithConfig(t, tc.backend, collector.Config{ExportWriteTimeout: 10 * time.Second, Logger: slog.New(slog.DiscardHandler)})
			p := collectortest.NewProbe(t)
			// 12 MB of lines: far more than the socket buffers of a stalled reader.
			body := strings.Repeat("x", 60<<10)
			for b := range 4 {
				var lines [][]byte
				for i := range 50 {
					m := collectortest.NewMeasurement(webSpec(fmt.Sprintf("https://s%d-%d.example/", b, i), t0.Add(time.Duration(b*50+i)*time.Second)))
					m.TestKeys.(map[string]any)["body"] = body
					lines = append(lines, p.Sign(t, m))
				}
				if status, a := post(t, c, collector.ContentTypeNDJSON, ndjson(lines...)); status != http.StatusOK {
					t.Fatalf("fill: %d %s", status, a.Error)
				}
			}
			before := measureService(t, c, p, "before")
			for range tc.readers {
				slowReader(t, c.URL)
			}
			time.Sleep(300 * time.Millisecond) // let every export fill its socket and stall
			during := measureService(t, c, p, "during")
			t.Logf("%s, %d slow readers: list p50 %v max %v (before: %v, %v); upload p50 %v max %v (before: %v, %v)",
				tc.backend, tc.readers, during.list[len(during.list)/2], during.list[len(during.list)-1],
				before.list[len(before.list)/2], before.list[len(before.list)-1],
				during.upload[len(during.upload)/2], during.upload[len(during.upload)-1],
				before.upload[len(before.upload)/2], before.upload[len(before.upload)-1])
		})
	}
}

type latencies struct{ list, upload []time.Duration }

// measureService runs 20 list queries and 5 uploads, each of which must be
// answered 200 (a 20 s client timeout catches a hang), and returns their
// latencies, sorted: figures, not assertions.
func measureService(t *testing.T, c *collectortest.Collector, p *collectortest.Probe, phase string) latencies {
	t.Helper()
	hc := &http.Client{Timeout: 20 * time.Second}
	var l latencies
	for i := range 20 {
		start := time.Now()
		resp, err := hc.Get(c.URL + "/api/v1/measurements?limit=10&probe_cc=KZ")
		if err != nil {
			t.Fatalf("%s: list %d: %v", phase, i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: list %d: %d", phase, i, resp.StatusCode)
		}
		l.list = append(l.list, time.Since(start))
	}
	for i := range 5 {
		line := p.SignSpec(t, webSpec(fmt.Sprintf("https://%s-%d.example/", phase, i), t0.Add(time.Hour)))
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, c.URL+"/api/v1/measurements", bytes.NewReader(line))
		req.Header.Set("Content-Type", collector.ContentTypeJSON)
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s: upload %d: %v", phase, i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: upload %d: %d", phase, i, resp.StatusCode)
		}
		l.upload = append(l.upload, time.Since(start))
	}
	slices.Sort(l.list)
	slices.Sort(l.upload)
	return l
}
