package main

// Crash safety of the collector, end to end: the real binary on a sqlite file is
// killed with SIGKILL while uploads are in flight, restarted on the same file, and
// must hold exactly what it acknowledged.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report"
	colltest "github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/collector/storage"
	"github.com/vantage-probe/vantage/report/sqlitedb"
)

// crashCollector is one run of `vantage collector serve` on a sqlite file.
type crashCollector struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{} // closed when the process has exited
}

var crashServingRE = regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+)/`)

// startCrashCollector starts the collector on a free loopback port with the rate
// limits off (the test floods from one address on purpose) and waits for the
// address it logs. It listens on loopback only and dials nothing.
func startCrashCollector(t *testing.T, bin, db string, extra ...string) *crashCollector {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(bin, append([]string{"collector", "serve", "--listen", "127.0.0.1:0", "--db", db,
		"--rate-limit", "0", "--read-rate-limit", "0"}, extra...)...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_DATA_HOME="+home)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &crashCollector{cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	var logs bytes.Buffer
	var logMu sync.Mutex
	go func() { // owned: ends when the process's stderr closes
		defer close(c.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			logs.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if m := crashServingRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
	}()
	t.Cleanup(func() { c.kill() })
	select {
	case c.url = <-found:
	case <-c.done:
		logMu.Lock()
		defer logMu.Unlock()
		t.Fatalf("collector exited before serving: %s", logs.String())
	case <-time.After(60 * time.Second):
		t.Fatal("collector did not report its address within 60 s")
	}
	return c
}

func (c *crashCollector) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

func (c *crashCollector) stop(t *testing.T) {
	t.Helper()
	c.cmd.Process.Signal(syscall.SIGTERM)
	<-c.done
	if !c.cmd.ProcessState.Success() {
		t.Errorf("collector after SIGTERM: %v", c.cmd.ProcessState)
	}
}

// crashUpload posts one batch; it returns the status (0 for a transport error)
// and the decoded answer of a 200.
func crashUpload(hc *http.Client, base string, lines [][]byte) (int, crashAnswer) {
	var a crashAnswer
	body := append(bytes.Join(lines, []byte("\n")), '\n')
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/measurements", bytes.NewReader(body))
	if err != nil {
		return 0, a
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, a
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, a // the answer was cut off: not an acknowledgement
	}
	if resp.StatusCode == http.StatusOK && json.Unmarshal(raw, &a) != nil {
		return 0, a
	}
	return resp.StatusCode, a
}

type crashAnswer struct {
	Stored     int `json:"stored"`
	Duplicates int `json:"duplicates"`
	Results    []struct {
		UID    string `json:"measurement_uid"`
		Status string `json:"status"`
	} `json:"results"`
}

func TestCollectorSurvivesKillDuringIngest(t *testing.T) {
	crashDuringIngest(t, filepath.Join(t.TempDir(), "collector.db"))
}

// The same on PostgreSQL (a fresh schema; skipped when PostgreSQL is not there).
func TestCollectorSurvivesKillDuringIngestPostgres(t *testing.T) {
	crashDuringIngest(t, colltest.PostgresSchemaURL(t))
}

func crashDuringIngest(t *testing.T, db string) {
	bin := storageBinary(t)
	sqlite := !strings.HasPrefix(db, "postgres")
	keyFlag := []string{"--log-key", filepath.Join(t.TempDir(), "log.key")} // kept across the restart
	const batches, perBatch, clients = 40, 25, 2

	// Every line signed up front, in batches; uid → exact bytes.
	p := colltest.NewProbe(t)
	t0 := time.Date(2022, 1, 5, 10, 0, 0, 0, time.UTC)
	batchLines := make([][][]byte, batches)
	uidOf := map[string][]byte{}
	batchOf := map[string]int{}
	for b := range batchLines {
		for i := range perBatch {
			n := b*perBatch + i
			line := p.SignSpec(t, colltest.Spec{CC: "KZ", ASN: "AS9198", TestName: "web_connectivity",
				Input: fmt.Sprintf("https://crash%d.example/", n), Start: t0.Add(time.Duration(n) * time.Second), Verdict: "ok"})
			sig, err := report.Verify(line)
			if err != nil {
				t.Fatal(err)
			}
			batchLines[b] = append(batchLines[b], line)
			uidOf[sig.MeasurementUID] = line
			batchOf[sig.MeasurementUID] = b
		}
	}

	col := startCrashCollector(t, bin, db, keyFlag...)
	hc := &http.Client{Timeout: 30 * time.Second}
	logKey := crashGet(t, hc, col.url+"/api/v1/log/key")
	var (
		mu       sync.Mutex
		acked    = map[int]bool{} // batches answered 200
		attempts = map[int]bool{} // batches whose upload began
		wg       sync.WaitGroup
	)
	enough := make(chan struct{})
	var once sync.Once
	next := make(chan int, batches)
	for b := range batches {
		next <- b
	}
	close(next)
	for range clients {
		wg.Go(func() {
			for b := range next {
				mu.Lock()
				attempts[b] = true
				mu.Unlock()
				status, a := crashUpload(hc, col.url, batchLines[b])
				if status == 0 {
					return // the collector is gone
				}
				if status != http.StatusOK || a.Stored+a.Duplicates != perBatch {
					t.Errorf("batch %d: status %d, answer %+v", b, status, a)
					return
				}
				mu.Lock()
				acked[b] = true
				if len(acked) >= batches/4 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-enough:
	case <-time.After(120 * time.Second):
		t.Fatal("a quarter of the batches were not acknowledged within 120 s")
	}
	col.kill() // SIGKILL while the clients keep uploading
	wg.Wait()
	if len(acked) == batches {
		t.Fatal("every batch was acknowledged before the kill: the kill did not land mid-ingest")
	}
	t.Logf("killed after %d of %d batches acknowledged (%d begun)", len(acked), batches, len(attempts))

	// The file is sound, the log and the store agree, and it opens again under
	// the binary with the same log key.
	if sqlite {
		checkSQLiteIntegrity(t, db)
	}
	checkLogAgrees(t, db, "after the kill")
	col = startCrashCollector(t, bin, db, keyFlag...)
	if k := crashGet(t, hc, col.url+"/api/v1/log/key"); !bytes.Equal(k, logKey) {
		t.Errorf("log key after the restart %q, before %q", k, logKey)
	}

	// Every acknowledged measurement is served back byte for byte.
	for b := range acked {
		for _, line := range batchLines[b] {
			sig, _ := report.Verify(line)
			got := crashGet(t, hc, col.url+"/api/v1/measurements/"+sig.MeasurementUID)
			if !bytes.Equal(bytes.TrimRight(got, "\n"), line) {
				t.Errorf("acknowledged %s (batch %d) served as %.80q", sig.MeasurementUID, b, got)
			}
		}
	}

	// Re-uploading everything completes: acknowledged lines are duplicates, the
	// others are stored or (a batch committed whose answer the kill cut off)
	// duplicates too.
	redo := 0
	for b, lines := range batchLines {
		status, a := crashUpload(hc, col.url, lines)
		if status != http.StatusOK || a.Stored+a.Duplicates != perBatch {
			t.Fatalf("re-upload of batch %d: status %d, answer %+v", b, status, a)
		}
		if acked[b] && a.Duplicates != perBatch {
			t.Errorf("re-upload of acknowledged batch %d stored %d anew", b, a.Stored)
		}
		if a.Stored != 0 && a.Duplicates != 0 {
			t.Errorf("batch %d was half committed: %d stored anew, %d already there", b, a.Stored, a.Duplicates)
		}
		if !acked[b] && a.Duplicates == perBatch {
			redo++
		}
	}
	t.Logf("%d unacknowledged batches had been committed before the kill", redo)
	col.stop(t)
	checkLogAgrees(t, db, "after the re-upload")

	// Exactly one copy of each measurement, with the probe's bytes.
	sdb, err := storage.Open(context.Background(), db)
	if err != nil {
		t.Fatalf("open after the re-upload: %v", err)
	}
	defer sdb.Close()
	seen := map[string]int{}
	err = sdb.Export(context.Background(), storage.Filter{}, func(line []byte) error {
		sig, err := report.Verify(line)
		if err != nil {
			return fmt.Errorf("stored line does not verify: %w", err)
		}
		seen[sig.MeasurementUID]++
		if !bytes.Equal(line, uidOf[sig.MeasurementUID]) {
			return errors.New("stored line differs from the probe's: " + sig.MeasurementUID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(uidOf) {
		t.Errorf("store holds %d measurements, want %d", len(seen), len(uidOf))
	}
	for uid, n := range seen {
		if n != 1 {
			t.Errorf("%s (batch %d) stored %d times", uid, batchOf[uid], n)
		}
	}
	if sqlite {
		checkSQLiteIntegrity(t, db)
	}
}

// checkLogAgrees checks that every stored uid has a leaf, every leaf a stored
// measurement whose line hashes to it, and that the tree's root recomputed from
// the lines is the stored one.
func checkLogAgrees(t *testing.T, db, when string) {
	t.Helper()
	sdb, err := storage.Open(context.Background(), db)
	if err != nil {
		t.Fatalf("open %s: %v", when, err)
	}
	defer sdb.Close()
	a, err := sdb.AuditLog(context.Background())
	if err != nil || !a.OK() {
		t.Errorf("log and store %s: %+v %v", when, a, err)
	}
	t.Logf("%s: %d measurements, %d leaves", when, a.Measurements, a.Leaves)
}

func crashGet(t *testing.T, hc *http.Client, u string) []byte {
	t.Helper()
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return b
}

// checkSQLiteIntegrity runs sqlite's own consistency check on the file.
func checkSQLiteIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open(sqlitedb.DriverName, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Errorf("integrity_check of %s: %q %v", path, res, err)
	}
}
