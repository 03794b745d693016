package main

// End-to-end tests of the storage commands (keys, export, verify, upload) and of
// crash safety, run against the real binary: $VANTAGE_BIN, else built once into
// the test's temporary directory.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/probe/identity"
	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/sqlitedb"
	"github.com/vantage-probe/vantage/report/upload/uploadtest"
)

// storageBinary returns the vantage binary to test.
func storageBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("VANTAGE_BIN"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("VANTAGE_BIN=%s: %v", bin, err)
		}
		return bin
	}
	bin := filepath.Join(t.TempDir(), "vantage")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// storageEnv is one probe installation: a data directory and a configuration
// that points every network setting at loopback.
type storageEnv struct {
	bin, dir, config string
}

func newStorageEnv(t *testing.T, bin, collector string) *storageEnv {
	t.Helper()
	root := t.TempDir()
	e := &storageEnv{bin: bin, dir: filepath.Join(root, "data"), config: filepath.Join(root, "config.toml")}
	cfg := fmt.Sprintf(`[probe]
country = "KZ"
asn = "AS9198"
informed_consent = true
[network]
resolver = "udp://127.0.0.1:1"
[control]
helpers = ["http://127.0.0.1:1"]
[canaries]
domestic = ["127.0.0.1:1"]
foreign = ["127.0.0.1:1"]
[upload]
enabled = %v
collector = %q
[storage]
dir = %q
[run]
parallelism = 1
timeout = 1.0
retries = 1
`, collector != "", collector, e.dir)
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// command builds a vantage invocation. isolated wraps it in a network namespace
// with only loopback, for commands that might otherwise reach out (run).
func (e *storageEnv) command(isolated bool, args ...string) *exec.Cmd {
	args = append([]string{"--config", e.config}, args...)
	cmd := exec.Command(e.bin, args...)
	if isolated {
		// What /work/shared/bin/isolated does, inline so that a clean clone needs
		// nothing outside the repository: a new network namespace, loopback only.
		script := `ip link set lo up 2>/dev/null; exec "$@"`
		cmd = exec.Command("unshare", append([]string{unshareFlag(), "--", "sh", "-c", script, "sh", e.bin}, args...)...)
	}
	home := filepath.Dir(e.dir)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_DATA_HOME="+home)
	return cmd
}

// unshareFlag: root creates a network namespace directly; anyone else needs a user
// namespace too.
func unshareFlag() string {
	if os.Geteuid() == 0 {
		return "-n"
	}
	return "-rn"
}

// requireNetns skips the test when network namespaces cannot be created here.
func requireNetns(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("unshare", unshareFlag(), "--", "true").CombinedOutput(); err != nil {
		t.Skipf("needs a network namespace (root or unprivileged user namespaces): unshare: %v %s", err, out)
	}
}

// run runs vantage to completion and returns stdout, stderr and the exit code.
func (e *storageEnv) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := e.command(false, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("vantage %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// seed signs n measurements with the probe's own key (from the data directory)
// and stores them, queued for upload, the way a run does.
func (e *storageEnv) seed(t *testing.T, bodies []string) map[string][]byte {
	t.Helper()
	id, err := identity.LoadOrCreate(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	run, err := st.BeginRun(ctx, store.RunInfo{TestName: "web_connectivity", StartTime: start, ProbeCC: "KZ", ProbeASN: "AS9198"})
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string][]byte{}
	for i, body := range bodies {
		uid := report.NewMeasurementUID(start, "KZ", "web_connectivity")
		line := uploadtest.Sign(t, id.Private, uploadtest.Measurement(uid, fmt.Sprintf("https://example.org/%d", i), start, map[string]any{"body": body}))
		meta := store.MeasurementMeta{UID: uid, TestName: "web_connectivity", StartTime: start.Add(time.Duration(i) * time.Millisecond)}
		if err := st.SaveMeasurement(ctx, run, line, meta, true); err != nil {
			t.Fatal(err)
		}
		lines[uid] = line
	}
	return lines
}

func TestStorageCommands(t *testing.T) {
	bin := storageBinary(t)
	t.Run("keys show", func(t *testing.T) { testKeysShow(t, bin) })
	t.Run("hostile content survives export and verify", func(t *testing.T) { testExportVerifyHostile(t, bin) })
	t.Run("kill during upload", func(t *testing.T) { testKillDuringUpload(t, bin) })
	t.Run("kill during run", func(t *testing.T) { testKillDuringRun(t, bin) })
}

func testKeysShow(t *testing.T, bin string) {
	e := newStorageEnv(t, bin, "")
	out, errOut, code := e.run(t, "keys", "show", "--json")
	if code != 0 {
		t.Fatalf("keys show: exit %d: %s", code, errOut)
	}
	var shown map[string]string
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatalf("keys show --json: %v: %q", err, out)
	}
	id, err := identity.LoadOrCreate(e.dir) // the key the command created
	if err != nil {
		t.Fatal(err)
	}
	if shown["probe_id"] != id.ProbeID || shown["probe_id"] != report.ProbeID(id.Public) || shown["key_file"] != filepath.Join(e.dir, "probe.key") {
		t.Errorf("keys show = %v; key file holds probe %s", shown, id.ProbeID)
	}
	again, _, _ := e.run(t, "keys", "show", "--json")
	if again != out {
		t.Error("a second keys show printed a different identity")
	}
	os.Chmod(id.Path, 0o644)
	if _, errOut, code := e.run(t, "keys", "show"); code == 0 || !strings.Contains(errOut, "readable or writable by others") {
		t.Errorf("a world-readable key: exit %d, %q; want a refusal", code, errOut)
	}
}

func testExportVerifyHostile(t *testing.T, bin string) {
	e := newStorageEnv(t, bin, "")
	var bodies []string
	for _, b := range uploadtest.HostileBodies() {
		bodies = append(bodies, b)
	}
	lines := e.seed(t, bodies)
	bundle := filepath.Join(t.TempDir(), "bundle.jsonl")
	if _, errOut, code := e.run(t, "export", "--since", "72h", "-o", bundle); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	got := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(got) != len(lines) {
		t.Fatalf("bundle has %d lines, want %d", len(got), len(lines))
	}
	for i, line := range got {
		s, err := report.ParseSigned(line)
		if err != nil || !bytes.Equal(lines[s.MeasurementUID], line) {
			t.Errorf("bundle line %d is not byte for byte the signed line (%v)", i+1, err)
		}
	}
	out, errOut, code := e.run(t, "verify", bundle)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("%d lines, %d verified, 0 invalid", len(lines), len(lines))) {
		t.Fatalf("verify of an intact bundle: exit %d, %q %q", code, out, errOut)
	}

	// One byte changed inside line 3's measurement; a naive JSON round trip of line 5.
	tampered := bytes.Clone(data)
	lineStart := func(n int) int { // 1-based line n
		off := 0
		for range n - 1 {
			off += bytes.IndexByte(tampered[off:], '\n') + 1
		}
		return off
	}
	at := lineStart(3) + bytes.Index(tampered[lineStart(3):], []byte(`"probe_asn":"AS9198"`)) + len(`"probe_asn":"AS91`)
	tampered[at] = '8'
	var generic map[string]any
	l5 := got[4]
	json.Unmarshal(l5, &generic)
	reencoded, _ := json.Marshal(generic)
	tampered = bytes.Replace(tampered, l5, reencoded, 1)
	os.WriteFile(bundle, tampered, 0o600)
	out, _, code = e.run(t, "verify", bundle)
	s3, _ := report.ParseSigned(got[2])
	if code != exitVerifyFailed ||
		!strings.Contains(out, fmt.Sprintf("%s:3: uid %s: signature does not verify", bundle, s3.MeasurementUID)) ||
		!regexp.MustCompile(regexp.QuoteMeta(bundle)+`:5: uid \S+: `).MatchString(out) ||
		!strings.Contains(out, fmt.Sprintf("%d lines, %d verified, 2 invalid", len(lines), len(lines)-2)) {
		t.Errorf("verify of a tampered bundle: exit %d, output:\n%s", code, out)
	}
	if strings.Count(out, "\n") != 3 {
		t.Errorf("want exactly two problem lines and a total, got:\n%s", out)
	}
}

// testKillDuringUpload SIGKILLs `vantage upload` while a slow collector is taking
// its batches, then checks that every measurement the store marked uploaded is at
// the collector, that nothing was stored twice, and that a second upload finishes
// the job re-sending at most the batch that was in flight.
func testKillDuringUpload(t *testing.T, bin string) {
	col := uploadtest.NewServer()
	defer col.Close()
	col.SetDelay(50 * time.Millisecond)
	e := newStorageEnv(t, bin, col.URL)
	bodies := make([]string, 120)
	for i := range bodies {
		bodies[i] = fmt.Sprintf("<p>measurement %d</p>", i)
	}
	lines := e.seed(t, bodies)
	const batch = 4
	cmd := e.command(false, "upload", "--batch-size", strconv.Itoa(batch))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, cmd, func() bool { return col.StoredCount() >= 40 })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	st, err := store.Open(e.dir)
	if err != nil {
		t.Fatalf("store after kill: %v", err)
	}
	qs, err := st.QueueStats(context.Background())
	st.Close()
	if err != nil || qs.Uploaded+qs.Pending != len(lines) || qs.Rejected != 0 {
		t.Fatalf("queue after kill = %+v, %v", qs, err)
	}
	if qs.Uploaded == 0 || qs.Pending == 0 {
		t.Fatalf("queue after kill = %+v: the kill should land mid-upload", qs)
	}
	uploaded := markedUploaded(t, e.dir)
	stored := col.Stored()
	for uid := range uploaded {
		if _, ok := stored[uid]; !ok {
			t.Errorf("%s is marked uploaded but the collector does not have it", uid)
		}
	}
	t.Logf("killed with %d marked uploaded, %d at the collector", len(uploaded), len(stored))
	if len(stored) < len(uploaded) || len(stored) > len(uploaded)+batch {
		t.Errorf("collector holds %d, store marked %d uploaded: more than one batch (%d) unacknowledged", len(stored), len(uploaded), batch)
	}

	col.SetDelay(0)
	out, errOut, code := e.run(t, "upload", "--batch-size", strconv.Itoa(batch))
	if code != 0 {
		t.Fatalf("upload after the kill: exit %d: %s %s", code, out, errOut)
	}
	var up, dup, rej, wait int
	if _, err := fmt.Sscanf(out, "uploaded %d, already at the collector %d, rejected %d, waiting %d", &up, &dup, &rej, &wait); err != nil {
		t.Fatalf("upload output %q: %v", out, err)
	}
	if up+dup != len(lines)-len(uploaded) || dup > batch || rej != 0 || wait != 0 {
		t.Errorf("second upload: %q; want %d sent of which at most %d duplicates", out, len(lines)-len(uploaded), batch)
	}
	stored = col.Stored()
	if len(stored) != len(lines) {
		t.Errorf("collector holds %d measurements, want %d", len(stored), len(lines))
	}
	for uid, line := range lines {
		if !bytes.Equal(stored[uid], line) {
			t.Errorf("collector's %s is not the probe's line", uid)
		}
	}
}

// markedUploaded lists the uids the store says the collector acknowledged.
func markedUploaded(t *testing.T, dir string) map[string]bool {
	t.Helper()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pending, err := st.PendingUploads(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	isPending := map[string]bool{}
	for _, p := range pending {
		isPending[p.UID] = true
	}
	out := map[string]bool{}
	st.MeasurementsSince(context.Background(), time.Time{}, func(m store.StoredMeasurement) error {
		if !isPending[m.UID] {
			out[m.UID] = true
		}
		return nil
	})
	return out
}

// waitFor polls cond until it holds; it fails the test if the process exits first
// or nothing happens for a long time (a hung binary, not a slow machine).
func waitFor(t *testing.T, cmd *exec.Cmd, cond func() bool) {
	t.Helper()
	exited := make(chan struct{})
	go func() {
		for {
			if cmd.ProcessState != nil {
				close(exited)
				return
			}
			if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
				close(exited)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		select {
		case <-exited:
			if cond() {
				return
			}
			t.Fatal("vantage exited before the moment to kill it")
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("vantage made no progress in 60 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// testKillDuringRun SIGKILLs `vantage run` after some measurements are stored,
// then checks that the store opens, that every stored line verifies and is stored
// once, that every measurement the run printed (but the one in flight) was stored,
// and that a new run and an upload still work.
func testKillDuringRun(t *testing.T, bin string) {
	requireNetns(t)
	col := uploadtest.NewServer()
	defer col.Close()
	e := newStorageEnv(t, bin, col.URL)
	// 127.0.0.1:1 has no listener inside the isolated namespace: each tcpconnect
	// measurement is a quick connection_refused, which is a result like any other.
	const input = "127.0.0.1:1"
	out, errOut, code := e.runIsolated(t, "run", "tcpconnect", "--json", "--no-upload", "--input", input)
	if code != 0 {
		t.Skipf("vantage run tcpconnect is not available yet (exit %d: %s); integrator: register tcpconnect", code, strings.TrimSpace(errOut))
	}
	if n := countStored(t, e.dir); n != 1 {
		t.Skipf("vantage run does not store its measurements yet (%d stored after one run; stdout %q); integrator: wire the runner to probe/store", n, out)
	}

	const total = 20000 // far more than can finish before the kill
	args := []string{"run", "tcpconnect", "--json"}
	for range total {
		args = append(args, "--input", input)
	}
	cmd := e.command(true, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	printed := make(chan []string, 1)
	go func() {
		var uids []string
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var m struct {
				UID string `json:"measurement_uid"`
			}
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.UID != "" {
				uids = append(uids, m.UID)
			}
		}
		printed <- uids
	}()
	waitFor(t, cmd, func() bool { return countStored(t, e.dir) >= 30 })
	cmd.Process.Signal(syscall.SIGKILL)
	uids := <-printed
	cmd.Wait()

	st, err := store.Open(e.dir)
	if err != nil {
		t.Fatalf("store after kill: %v", err)
	}
	seen := map[string]int{}
	err = st.MeasurementsSince(context.Background(), time.Time{}, func(m store.StoredMeasurement) error {
		s, err := report.Verify(m.Line)
		if err != nil {
			t.Errorf("stored %s does not verify: %v", m.UID, err)
		} else if s.MeasurementUID != m.UID {
			t.Errorf("stored under %s, signed as %s", m.UID, s.MeasurementUID)
		}
		seen[m.UID]++
		return nil
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	for uid, n := range seen {
		if n != 1 {
			t.Errorf("%s stored %d times", uid, n)
		}
	}
	missing := 0
	for _, uid := range uids {
		if seen[uid] == 0 {
			missing++
		}
	}
	if missing > 1 {
		t.Errorf("%d measurements printed as done are not in the store (at most the one in flight may be)", missing)
	}
	if len(seen) >= total {
		t.Fatalf("the run finished (%d stored) before it was killed", len(seen))
	}
	t.Logf("killed with %d measurements stored, %d printed", len(seen), len(uids))

	// Life goes on: a new run stores, and the queue drains.
	if _, errOut, code := e.runIsolated(t, "run", "tcpconnect", "--input", input, "--input", input); code != 0 {
		t.Fatalf("run after the kill: exit %d: %s", code, errOut)
	}
	// The isolated run cannot reach the collector on the host's loopback: it
	// stores its two measurements and one collector_reachability measurement of
	// the failed route, which the upload below carries out with the rest.
	if n, reach := countStored(t, e.dir), countStoredOf(t, e.dir, "collector_reachability"); n != len(seen)+3 || reach != 1 {
		t.Errorf("after a new run: %d stored (%d collector_reachability), want %d (1)", n, reach, len(seen)+3)
	}
	if out, errOut, code := e.run(t, "upload"); code != 0 {
		t.Fatalf("upload after the kill: exit %d: %s %s", code, out, errOut)
	}
	st, _ = store.Open(e.dir)
	qs, _ := st.QueueStats(context.Background())
	st.Close()
	if qs.Pending != 0 || qs.Uploaded != col.StoredCount() || qs.Uploaded == 0 {
		t.Errorf("after upload: queue %+v, collector holds %d", qs, col.StoredCount())
	}
}

func (e *storageEnv) runIsolated(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := e.command(true, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("vantage %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// countStored counts the measurements in the store through a read-only
// connection, which in WAL mode never blocks the writer being watched.
func countStored(t *testing.T, dir string) int {
	t.Helper()
	return countStoredOf(t, dir, "")
}

// countStoredOf counts the measurements of one test_name ("" for all).
func countStoredOf(t *testing.T, dir, testName string) int {
	t.Helper()
	path := filepath.Join(dir, store.FileName)
	if _, err := os.Stat(path); err != nil {
		return 0
	}
	db, err := sqlitedb.Open(path, sqlitedb.Options{ReadOnly: true, BusyTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM measurements WHERE ? = '' OR test_name = ?", testName, testName).Scan(&n); err != nil {
		return 0 // not migrated yet
	}
	return n
}

func TestParseSince(t *testing.T) {
	now := time.Date(2022, 1, 8, 12, 0, 0, 0, time.UTC)
	ok := map[string]time.Time{
		"2022-01-05T10:00:00Z":      time.Date(2022, 1, 5, 10, 0, 0, 0, time.UTC),
		"2022-01-05T16:00:00+06:00": time.Date(2022, 1, 5, 10, 0, 0, 0, time.UTC),
		"2022-01-05":                time.Date(2022, 1, 5, 0, 0, 0, 0, time.UTC),
		"72h":                       time.Date(2022, 1, 5, 12, 0, 0, 0, time.UTC),
		"90m":                       time.Date(2022, 1, 8, 10, 30, 0, 0, time.UTC),
		"3d":                        time.Date(2022, 1, 5, 12, 0, 0, 0, time.UTC),
	}
	for in, want := range ok {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-72h", "2022-13-01", "3 days", "d"} {
		if got, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q) = %v; want an error", bad, got)
		}
	}
}
