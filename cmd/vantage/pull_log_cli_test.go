package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	colltest "github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/translog"
)

// TestPullThenVerifyLog runs the real binary: pull from a collector writes the
// bundle and its proof file and pins the log key; verify --log proves every line
// offline, and names a line whose proof was altered or is missing.
func TestPullThenVerifyLog(t *testing.T) {
	bin := storageBinary(t)
	c := colltest.New(t, colltest.SQLite)
	p := colltest.NewProbe(t)
	var lines [][]byte
	t0 := time.Date(2022, 1, 5, 10, 0, 0, 0, time.UTC)
	for i := range 3 {
		lines = append(lines, p.SignSpec(t, colltest.Spec{CC: "KZ", ASN: "AS9198", TestName: "web_connectivity",
			Input: fmt.Sprintf("https://v%d.example/", i), Start: t0.Add(time.Duration(i) * time.Minute), Verdict: "ok"}))
	}
	resp, err := http.Post(c.URL+"/api/v1/measurements", "application/x-ndjson", bytes.NewReader(append(bytes.Join(lines, []byte("\n")), '\n')))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("upload: %v %v", resp, err)
	}
	resp.Body.Close()
	dir := t.TempDir()
	out, state := filepath.Join(dir, "kz.jsonl"), filepath.Join(dir, "state.json")
	run := func(args ...string) (string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
		b, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(b), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(b), 0
	}
	got, code := run("pull", "--collector", c.URL, "-o", out, "--log-state", state)
	if code != 0 || !strings.Contains(got, "its log key vantage-collector-test is now pinned") || !strings.Contains(got, "size 3") {
		t.Fatalf("pull: %d %s", code, got)
	}
	if got, code = run("verify", "--log", out+".log.json", out); code != 0 || !strings.Contains(got, "3 of 3 lines proved in the log vantage-collector-test at size 3") {
		t.Fatalf("verify --log: %d %s", code, got)
	}
	if got, code = run("verify", "--log", out+".log.json", "--log-key", mustKey(t), out); code != exitVerifyFailed || !strings.Contains(got, "not --log-key") {
		t.Errorf("verify --log with another key: %d %s", code, got)
	}
	pf, err := translog.ReadProofFile(out + ".log.json")
	if err != nil {
		t.Fatal(err)
	}
	pf.Proofs[1].Hashes[0][0] ^= 1
	altered := pf.Proofs[1].UID
	pf.Proofs = append(pf.Proofs[:0], pf.Proofs[1:]...) // and drop the first
	b, _ := json.Marshal(pf)
	bad := filepath.Join(dir, "bad.log.json")
	os.WriteFile(bad, b, 0o644)
	got, code = run("verify", "--log", bad, out)
	if code != exitVerifyFailed || !strings.Contains(got, "uid "+altered+": not the bytes logged at leaf") ||
		!strings.Contains(got, ": no inclusion proof in") || !strings.Contains(got, "1 of 3 lines proved") {
		t.Errorf("verify --log with a broken proof file: %d %s", code, got)
	}
}

// TestPullOONIRawTree writes OONI's raw-data layout from a verified pull.
func TestPullOONIRawTree(t *testing.T) {
	bin := storageBinary(t)
	c := colltest.New(t, colltest.SQLite)
	p := colltest.NewProbe(t)
	t0 := time.Date(2022, 1, 5, 10, 0, 0, 0, time.UTC)
	line := p.SignSpec(t, colltest.Spec{CC: "KZ", ASN: "AS9198", TestName: "web_connectivity",
		Input: "https://r.example/", Start: t0, Verdict: "blocked", Method: "quic.blocked"})
	resp, err := http.Post(c.URL+"/api/v1/measurements", "application/json", bytes.NewReader(line))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("upload: %v %v", resp, err)
	}
	resp.Body.Close()
	dir := t.TempDir()
	cmd := exec.Command(bin, "pull", "--collector", c.URL, "--format", "ooni", "--layout", "raw", "-o", filepath.Join(dir, "tree"),
		"--log-state", filepath.Join(dir, "state.json"))
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "into 1 files") {
		t.Fatalf("pull: %v %s", err, out)
	}
	want := filepath.Join(dir, "tree/raw/20220105/10/KZ/web_connectivity/2022010510_KZ_web_connectivity.n0.0.jsonl.gz")
	if _, err := os.Stat(want); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tree/.vantage-pull.jsonl")); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
	cmd = exec.Command(bin, "pull", "--collector", c.URL, "--layout", "raw", "-o", filepath.Join(dir, "t2"), "--no-log-check")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "needs --format ooni") {
		t.Errorf("raw without ooni: %v %s", err, out)
	}
}

func mustKey(t *testing.T) string {
	k, _, err := translog.NewKey("other")
	if err != nil {
		t.Fatal(err)
	}
	return k.VerifierKey()
}
