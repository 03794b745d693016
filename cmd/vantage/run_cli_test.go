package main

// Tests of `vantage run` and the volunteer commands against the real binary
// ($VANTAGE_BIN, else built into the test's temporary directory). Every run is
// wrapped in /work/shared/bin/isolated (a loopback-only network namespace), and
// every network setting points at loopback: nothing leaves the machine.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/probe/runner"
	"github.com/vantage-probe/vantage/probe/store"
)

// isolatedWrapper runs a command in a loopback-only network namespace. Where it
// is missing (a CI machine without the shared tools), isolatedArgv builds the same
// thing from unshare(1).
const isolatedWrapper = "/work/shared/bin/isolated"

// isolatedArgv returns the argv that runs argv in a fresh network namespace with
// only loopback up.
func isolatedArgv(argv ...string) []string {
	if _, err := os.Stat(isolatedWrapper); err == nil {
		return append([]string{isolatedWrapper}, argv...)
	}
	flags := "-rn" // an unprivileged user namespace, as the wrapper does
	if os.Geteuid() == 0 {
		flags = "-n"
	}
	return append([]string{"unshare", flags, "--", "sh", "-c", `ip link set lo up 2>/dev/null; exec "$@"`, "sh"}, argv...)
}

// cliBinary returns $VANTAGE_BIN or a fresh build.
func cliBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("VANTAGE_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "vantage")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// requireIsolation skips when no loopback-only namespace can be made here.
func requireIsolation(t *testing.T) {
	t.Helper()
	argv := isolatedArgv("true")
	if err := exec.Command(argv[0], argv[1:]...).Run(); err != nil {
		t.Skipf("cannot create a network namespace here (needs root or user namespaces): %v", err)
	}
}

// probeHome is one installation: a config file, a data directory and a HOME.
type probeHome struct {
	bin, root, config, data string
}

// loopbackConfig points every network setting at loopback; consent and extra
// lines vary by test.
func loopbackConfig(data string, consent bool, extra string) string {
	return fmt.Sprintf(`# a volunteer's comment, to be kept
[probe]
country = "KZ"
asn = "AS9198"
informed_consent = %v

[network]
resolver = "udp://127.0.0.1:1"

[control]
helpers = ["http://127.0.0.1:1"]

[canaries]
domestic = ["127.0.0.1:1"]
foreign = ["127.0.0.1:2"]

[upload]
enabled = true
collector = "http://127.0.0.1:1"

[storage]
dir = %q

[run]
timeout = 0.5
retries = 1
%s`, consent, data, extra)
}

func newProbeHome(t *testing.T, bin string, consent bool) *probeHome {
	t.Helper()
	root := t.TempDir()
	h := &probeHome{bin: bin, root: root, config: filepath.Join(root, "config.toml"), data: filepath.Join(root, "data")}
	if err := os.WriteFile(h.config, []byte(loopbackConfig(h.data, consent, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	return h
}

// command builds `isolated vantage --config F args...` with HOME in the test dir.
func (h *probeHome) command(args ...string) *exec.Cmd {
	argv := isolatedArgv(append([]string{h.bin, "--config", h.config}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "HOME="+h.root, "XDG_CONFIG_HOME="+h.root, "XDG_DATA_HOME="+h.root, "NO_COLOR=")
	return cmd
}

func (h *probeHome) run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := h.command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("vantage %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func writeList(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const threeURLs = "url,category_code,category_description,date_added,source,notes\n" +
	"https://127.0.0.1:1/news,NEWS,News Media,2024-01-01,test,\"a, quoted note\"\n" +
	"https://127.0.0.1:1/rights,HUMR,Human Rights Issues,2024-01-01,test,\n" +
	"https://127.0.0.1:1/gov,GOVT,Government,2024-01-01,test,\n"

func TestRunCLI(t *testing.T) {
	requireIsolation(t)
	bin := cliBinary(t)
	t.Run("batch without consent", func(t *testing.T) { testBatchNoConsent(t, bin) })
	t.Run("config errors", func(t *testing.T) { testConfigErrors(t, bin) })
	t.Run("lock", func(t *testing.T) { testLock(t, bin) })
	t.Run("batch run", func(t *testing.T) { testBatchRun(t, bin) })
	t.Run("json summary", func(t *testing.T) { testJSONSummary(t, bin) })
	t.Run("bad inputs", func(t *testing.T) { testBadInputs(t, bin) })
	t.Run("results and config", func(t *testing.T) { testResultsAndConfig(t, bin) })
	t.Run("interactive in a terminal", func(t *testing.T) { testInteractive(t, bin) })
}

func testBatchNoConsent(t *testing.T, bin string) {
	h := newProbeHome(t, bin, false)
	before, _ := os.ReadFile(h.config)
	_, errOut, code := h.run(t, "run", "--batch")
	if code != exitNoConsent {
		t.Fatalf("exit %d, want %d (no consent); stderr %s", code, exitNoConsent, errOut)
	}
	for _, want := range []string{"informed consent is not recorded", "vantage config init --accept-consent", h.config, "informed_consent = true"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("message lacks %q:\n%s", want, errOut)
		}
	}
	if after, _ := os.ReadFile(h.config); !bytes.Equal(before, after) {
		t.Error("a batch run changed the configuration file")
	}
	if _, err := os.Stat(filepath.Join(h.data, store.FileName)); err == nil {
		t.Error("a run without consent created a store")
	}
	// Not a terminal and not --batch: it cannot ask either.
	if _, errOut, code := h.run(t, "run"); code != exitNoConsent || !strings.Contains(errOut, "--accept-consent") {
		t.Errorf("non-interactive run without consent: exit %d, %s", code, errOut)
	}
	// Recording consent makes --batch work.
	if out, errOut, code := h.run(t, "config", "init", "--accept-consent"); code != 0 || !strings.Contains(out, "consent recorded") {
		t.Fatalf("config init --accept-consent: exit %d\n%s\n%s", code, out, errOut)
	}
	text, _ := os.ReadFile(h.config)
	if !strings.Contains(string(text), "informed_consent = true") || !strings.Contains(string(text), "# a volunteer's comment") ||
		!strings.Contains(string(text), `collector = "http://127.0.0.1:1"`) || strings.Contains(string(text), "informed_consent = false") {
		t.Errorf("consent must be recorded with every other line kept:\n%s", text)
	}
	if _, errOut, code := h.run(t, "run", "--batch", "--input", "https://127.0.0.1:1/"); code != 0 {
		t.Errorf("batch run after consent: exit %d: %s", code, errOut)
	}
}

func testConfigErrors(t *testing.T, bin string) {
	h := newProbeHome(t, bin, true)
	missing := *h
	missing.config = filepath.Join(h.root, "nope.toml")
	_, errOut, code := missing.run(t, "run", "--batch")
	if code != exitUsage || !strings.Contains(errOut, "nope.toml") {
		t.Errorf("missing config: exit %d (want %d), %s", code, exitUsage, errOut)
	}
	unreadable := *h
	unreadable.config = t.TempDir() // a directory: unreadable as a file, even for root
	_, errOut, code = unreadable.run(t, "run", "--batch")
	if code != exitUsage || !strings.Contains(errOut, "cannot read") {
		t.Errorf("unreadable config: exit %d (want %d), %s", code, exitUsage, errOut)
	}
	broken := *h
	broken.config = writeList(t, h.root, "broken.toml", "[probe]\ninformed_consent = true\ncountry = \"Kazakhstan\"\n")
	_, errOut, code = broken.run(t, "run", "--batch")
	if code != exitUsage || !strings.Contains(errOut, "broken.toml:3") || !strings.Contains(errOut, "probe.country") {
		t.Errorf("invalid config: exit %d (want %d), %s", code, exitUsage, errOut)
	}
	if _, errOut, code := h.run(t, "run", "--batch", "--parallelism", "-3"); code != exitUsage {
		t.Errorf("--parallelism -3: exit %d, want %d: %s", code, exitUsage, errOut)
	}
	if _, errOut, code := h.run(t, "run", "--batch", "--bogus"); code != exitUsage {
		t.Errorf("unknown flag: exit %d, want %d: %s", code, exitUsage, errOut)
	}
}

func testLock(t *testing.T, bin string) {
	h := newProbeHome(t, bin, true)
	// The test holds the lock, as an overlapping run would.
	release, err := runner.Lock(h.data)
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, code := h.run(t, "run", "--batch", "--input", "https://127.0.0.1:1/")
	if code != exitLocked {
		t.Fatalf("exit %d, want %d (locked): %s", code, exitLocked, errOut)
	}
	if !strings.Contains(errOut, "another vantage run is in progress") || !strings.Contains(errOut, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("lock message: %s", errOut)
	}
	release()
	if _, errOut, code := h.run(t, "run", "--batch", "--input", "https://127.0.0.1:1/"); code != 0 {
		t.Errorf("after release: exit %d: %s", code, errOut)
	}
}

func testBatchRun(t *testing.T, bin string) {
	h := newProbeHome(t, bin, true)
	list := writeList(t, h.root, "list.csv", threeURLs)
	out, errOut, code := h.run(t, "run", "--batch", "--input-file", list)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != "" {
		t.Errorf("a batch run without --json prints nothing on stdout, got %q", out)
	}
	var finished map[string]any
	for _, line := range strings.Split(strings.TrimSpace(errOut), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("stderr line is not JSON: %q", line)
		}
		if rec["level"] == nil || rec["msg"] == nil || rec["time"] == nil {
			t.Errorf("log record lacks level/msg/time: %q", line)
		}
		if rec["msg"] == "run finished" {
			finished = rec
		}
	}
	if finished == nil || finished["network_verdict"] != "local_failure" {
		t.Fatalf("no 'run finished' record with the verdict in:\n%s", errOut)
	}
	st, err := store.Open(h.data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	qs, err := st.QueueStats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Offline: 3 URLs and the connectivity check, all kept and queued for later.
	if qs.Pending != 4 {
		t.Errorf("queue %+v, want 4 pending", qs)
	}
}

func testJSONSummary(t *testing.T, bin string) {
	h := newProbeHome(t, bin, true)
	list := writeList(t, h.root, "list.csv", threeURLs)
	out, errOut, code := h.run(t, "run", "--json", "--no-upload", "--input-file", list, "--category", "NEWS,HUMR")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 { // connectivity, two URLs, summary
		t.Fatalf("%d lines, want 4:\n%s", len(lines), out)
	}
	inputs := map[string]bool{}
	for _, l := range lines[:3] {
		var m struct {
			UID      string  `json:"measurement_uid"`
			Input    *string `json:"input"`
			ProbeCC  string  `json:"probe_cc"`
			TestKeys struct {
				Verdict string `json:"verdict"`
				Reason  string `json:"reason"`
			} `json:"test_keys"`
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil || m.UID == "" || m.ProbeCC != "KZ" {
			t.Fatalf("not a measurement: %v %s", err, l)
		}
		if strings.Contains(l, `"signature"`) {
			t.Errorf("--json prints measurements, not envelopes: %s", l)
		}
		if m.Input != nil {
			inputs[*m.Input] = true
			if m.TestKeys.Verdict != "inconclusive" || m.TestKeys.Reason != "local_failure" {
				t.Errorf("%s: verdict %q reason %q in an isolated namespace", *m.Input, m.TestKeys.Verdict, m.TestKeys.Reason)
			}
		}
	}
	if !inputs["https://127.0.0.1:1/news"] || !inputs["https://127.0.0.1:1/rights"] || inputs["https://127.0.0.1:1/gov"] {
		t.Errorf("--category NEWS,HUMR measured %v", inputs)
	}
	var last struct {
		Summary *struct {
			NetworkVerdict string         `json:"network_verdict"`
			URLs           map[string]int `json:"urls"`
			RunID          int64          `json:"run_id"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(lines[3]), &last); err != nil || last.Summary == nil {
		t.Fatalf("last line is not the summary: %s", lines[3])
	}
	if s := last.Summary; s.NetworkVerdict != "local_failure" || s.URLs["inconclusive"] != 2 || s.RunID == 0 {
		t.Errorf("summary %s", lines[3])
	}
	st, _ := store.Open(h.data)
	qs, _ := st.QueueStats(t.Context())
	st.Close()
	if qs.Pending != 0 {
		t.Errorf("--no-upload queued %d measurements", qs.Pending)
	}
}

func testBadInputs(t *testing.T, bin string) {
	h := newProbeHome(t, bin, true)
	bad := writeList(t, h.root, "bad.txt", "# my list\nhttps://ok.example/\nexample.org/no-scheme\n")
	if _, errOut, code := h.run(t, "run", "--batch", "--input-file", bad); code != exitUsage || !strings.Contains(errOut, "bad.txt:3") {
		t.Errorf("bad list: exit %d, %s", code, errOut)
	}
	if _, errOut, code := h.run(t, "run", "--batch", "--category", "NOPE"); code != exitUsage || !strings.Contains(errOut, `unknown category "NOPE"`) {
		t.Errorf("bad category: exit %d, %s", code, errOut)
	}
	if _, errOut, code := h.run(t, "run", "--batch", "--input", "ftp://x/"); code != exitUsage || !strings.Contains(errOut, "ftp://x/") {
		t.Errorf("bad --input: exit %d, %s", code, errOut)
	}
	if _, errOut, code := h.run(t, "run", "nosuchtest", "--batch"); code != exitUsage || !strings.Contains(errOut, "unknown nettest") {
		t.Errorf("unknown nettest: exit %d, %s", code, errOut)
	}
}

func testResultsAndConfig(t *testing.T, bin string) {
	h := newProbeHome(t, bin, true)
	if out, _, code := h.run(t, "results", "list"); code != 0 || strings.Contains(out, "web_connectivity") {
		t.Errorf("results list before any run: exit %d, %q", code, out)
	}
	if _, errOut, code := h.run(t, "run", "--batch", "--input", "https://127.0.0.1:1/a"); code != 0 {
		t.Fatalf("run: %d %s", code, errOut)
	}
	out, _, code := h.run(t, "results", "list")
	if code != 0 || !strings.Contains(out, "web_connectivity") || !strings.Contains(out, "local_failure") || !strings.Contains(out, "KZ AS9198") {
		t.Errorf("results list: exit %d\n%s", code, out)
	}
	out, _, code = h.run(t, "results", "show", "1")
	if code != 0 || !strings.Contains(out, "https://127.0.0.1:1/a") || !strings.Contains(out, "inconclusive") {
		t.Errorf("results show 1: exit %d\n%s", code, out)
	}
	out, _, code = h.run(t, "results", "show", "1", "--signed")
	if code != 0 || strings.Count(out, `"format":"vantage-signed-v1"`) != 2 {
		t.Errorf("results show --signed: exit %d\n%s", code, out)
	}
	if _, errOut, code := h.run(t, "results", "show", "42"); code != exitUsage || !strings.Contains(errOut, "no run 42") {
		t.Errorf("results show 42: exit %d %s", code, errOut)
	}
	out, _, code = h.run(t, "config", "show")
	if code != 0 || !strings.Contains(out, `country = "KZ"`) || !strings.Contains(out, "# from "+h.config) {
		t.Errorf("config show: exit %d\n%s", code, out)
	}
	fresh := *h
	fresh.config = filepath.Join(h.root, "sub", "fresh.toml")
	if out, errOut, code := fresh.run(t, "config", "init"); code != 0 || !strings.Contains(out, "wrote") {
		t.Fatalf("config init: %d %s %s", code, out, errOut)
	}
	if _, errOut, code := fresh.run(t, "config", "init"); code != exitUsage || !strings.Contains(errOut, "exists") {
		t.Errorf("config init twice: exit %d %s", code, errOut)
	}
	if out, _, code := h.run(t, "--version"); code != 0 || !strings.HasPrefix(out, "vantage version ") {
		t.Errorf("--version: %d %q", code, out)
	}
	if out, _, code := h.run(t, "completion", "bash"); code != 0 || !strings.Contains(out, "__start_vantage") {
		t.Errorf("completion bash: %d", code)
	}
}
