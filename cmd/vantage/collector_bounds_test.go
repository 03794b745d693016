package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	colltest "github.com/vantage-probe/vantage/report/collector/collectortest"
)

// vmHWM reads a process's peak resident memory (VmHWM) from /proc, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kib << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// TestConcurrentBigUploadsStayWithinTheMemoryBound: the collector read and
// verified every body before taking an ingest slot, so 8 concurrent 60 MiB uploads
// drove it to 969 MB and 12 to 1.45 GB. The real binary must stay under 300 MB
// with 12 at once, answering each 200 or 429 with Retry-After.
func TestConcurrentBigUploadsStayWithinTheMemoryBound(t *testing.T) {
	bin := storageBinary(t)
	c := startCrashCollector(t, bin, filepath.Join(t.TempDir(), "collector.db"))
	p := colltest.NewProbe(t)
	// 60 lines of 1 MiB each: 60 MiB, under the 64 MiB request limit.
	pad := strings.Repeat("y", 1<<20)
	var lines [][]byte
	for i := range 60 {
		m := colltest.NewMeasurement(colltest.Spec{CC: "KZ", ASN: "AS9198", TestName: "web_connectivity",
			Input: fmt.Sprintf("https://big%d.example/", i), Start: time.Now().UTC().Add(-time.Hour), Verdict: "ok"})
		m.TestKeys.(map[string]any)["body"] = pad
		lines = append(lines, p.Sign(t, m))
	}
	body := append(bytes.Join(lines, []byte("\n")), '\n')
	const clients = 12
	statuses := make([]int, clients)
	retry := make([]string, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, c.url+"/api/v1/measurements", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-ndjson")
			resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
			if err != nil {
				t.Errorf("upload %d: %v", i, err)
				return
			}
			resp.Body.Close()
			statuses[i], retry[i] = resp.StatusCode, resp.Header.Get("Retry-After")
		})
	}
	wg.Wait()
	took := time.Since(start)
	peak := vmHWM(t, c.cmd.Process.Pid)
	ok, busy := 0, 0
	for i, s := range statuses {
		switch {
		case s == http.StatusOK:
			ok++
		case s == http.StatusTooManyRequests && retry[i] != "":
			busy++
		default:
			t.Errorf("upload %d: status %d (Retry-After %q), want 200 or 429 with Retry-After", i, s, retry[i])
		}
	}
	if ok == 0 {
		t.Error("no upload was stored")
	}
	if peak >= 300<<20 {
		t.Errorf("collector peak RSS %d MB, want < 300 MB", peak>>20)
	}
	t.Logf("%d concurrent 60 MiB uploads: %d stored (200), %d told to retry (429), in %v; collector peak RSS %.0f MB",
		clients, ok, busy, took.Round(time.Millisecond), float64(peak)/(1<<20))
	c.stop(t)
}
