package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/nettests"
)

// TestRunGroupsIsolated runs `vantage run --group im,circumvention --json` with
// the embedded (real-world) targets in a loopback-only namespace: it must end
// calmly, exit 0, with local_failure and every service inconclusive for that
// reason, none blocked.
func TestRunGroupsIsolated(t *testing.T) {
	bin := cliBinary(t)
	requireIsolation(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	text := "[probe]\ninformed_consent = true\ncountry = \"KZ\"\nasn = \"AS9198\"\n[storage]\ndir = \"" + filepath.Join(dir, "data") + "\"\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	argv := isolatedArgv(bin, "run", "--config", cfg, "--group", "im,circumvention", "--json")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	var services []string
	var summary struct {
		Summary struct {
			NetworkVerdict string `json:"network_verdict"`
			Services       map[string]struct {
				Verdict string `json:"verdict"`
			} `json:"services"`
		} `json:"summary"`
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var m struct {
			TestName string `json:"test_name"`
			TestKeys struct {
				Verdict string  `json:"verdict"`
				Reason  *string `json:"reason"`
			} `json:"test_keys"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, sc.Text())
		}
		if m.TestName == "" {
			if err := json.Unmarshal(sc.Bytes(), &summary); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if m.TestName == "connectivity" {
			if m.TestKeys.Verdict != nettests.NetworkLocalFailure {
				t.Errorf("network verdict %q", m.TestKeys.Verdict)
			}
			continue
		}
		services = append(services, m.TestName)
		if m.TestKeys.Verdict != "inconclusive" || m.TestKeys.Reason == nil || *m.TestKeys.Reason != nettests.ReasonLocalFailure {
			t.Errorf("%s: verdict %q reason %v, want inconclusive local_failure", m.TestName, m.TestKeys.Verdict, m.TestKeys.Reason)
		}
	}
	sort.Strings(services)
	if strings.Join(services, ",") != "dnscheck,facebook_messenger,signal,telegram,tor,whatsapp" {
		t.Errorf("measured %v", services)
	}
	if summary.Summary.NetworkVerdict != nettests.NetworkLocalFailure || len(summary.Summary.Services) != 6 {
		t.Errorf("summary %+v", summary.Summary)
	}
	for name, s := range summary.Summary.Services {
		if s.Verdict != "inconclusive" {
			t.Errorf("summary: %s %s", name, s.Verdict)
		}
	}
}

// TestRunGroupFlags: a NETTEST and --group together, an unknown group, and
// inputs without the websites group are usage errors.
func TestRunGroupFlags(t *testing.T) {
	bin := cliBinary(t)
	requireIsolation(t)
	h := newProbeHome(t, bin, true)
	for _, args := range [][]string{
		{"run", "--batch", "tor", "--group", "im"},
		{"run", "--batch", "--group", "nope"},
		{"run", "--batch", "--group", "im", "--input", "https://127.0.0.1:1/"},
	} {
		if _, errOut, code := h.run(t, args...); code != exitUsage || !strings.Contains(errOut, "group") {
			t.Errorf("%v: exit %d, %s", args, code, errOut)
		}
	}
}
