package console

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/runner"
)

func sampleSummary() *runner.Summary {
	return &runner.Summary{
		NetworkVerdict: "online", NetworkVerdictAfter: "partial_shutdown",
		URLs:         map[string]int{"ok": 12, "blocked": 3, "throttled": 0, "intermittent": 1, "down": 2, "inconclusive": 0},
		Blocked:      map[string][]string{"tcp.timeout": {"https://a.example/", "https://b.example/"}, "dns.nxdomain": {"https://c.example/"}},
		Intermittent: map[string][]string{"tls.reset": {"https://d.example/"}},
		Measurements: 20, RunID: 7, DurationS: 75.2,
	}
}

func TestSummaryText(t *testing.T) {
	var b bytes.Buffer
	Summary(&b, sampleSummary(), false)
	got := b.String()
	want := `Network: online: canaries at home and abroad answer
  after the sites: PARTIAL SHUTDOWN: only part of the attempts get through, or reachability flips
Blocked: 3 sites
  tcp.timeout (2)
    https://a.example/
    https://b.example/
  dns.nxdomain (1)
    https://c.example/
Intermittent: 1 site
  tls.reset (1)
    https://d.example/
Other sites: 12 ok, 2 down
20 measurements in 1m15s, run 7 (details: vantage results show 7)
`
	if got != want {
		t.Errorf("summary:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(got, "\x1b[") {
		t.Error("colour codes with colour off")
	}
	b.Reset()
	Summary(&b, sampleSummary(), true)
	if !strings.Contains(b.String(), ansiRed+ansiBold+"Blocked: 3 sites"+ansiReset) {
		t.Errorf("colour on: %q", b.String())
	}
}

func TestColorEnabled(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	// A pipe or a file is not a terminal, whatever the environment says.
	if ColorEnabled(nil, env(nil)) {
		t.Error("colour on a nil file")
	}
	if ColorEnabled(nil, env(map[string]string{"NO_COLOR": "1"})) {
		t.Error("colour with NO_COLOR")
	}
}

func TestSummaryLineAndJSONLines(t *testing.T) {
	var b bytes.Buffer
	JSONLines{W: &b}.Saved(nil, []byte(`{"measurement_uid":"x"}`))
	if err := WriteSummaryLine(&b, sampleSummary()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || lines[0] != `{"measurement_uid":"x"}` {
		t.Fatalf("lines %q", lines)
	}
	var last struct {
		Summary struct {
			NetworkVerdict string              `json:"network_verdict"`
			URLs           map[string]int      `json:"urls"`
			Blocked        map[string][]string `json:"blocked"`
			RunID          int64               `json:"run_id"`
			DurationS      float64             `json:"duration_s"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &last); err != nil {
		t.Fatal(err)
	}
	s := last.Summary
	if s.NetworkVerdict != "online" || s.URLs["blocked"] != 3 || len(s.Blocked["tcp.timeout"]) != 2 || s.RunID != 7 || s.DurationS != 75.2 {
		t.Errorf("summary line %s", lines[1])
	}
}

// TestEveryNetworkVerdictIsExplained: the sentence table follows the one verdict
// list.
func TestEveryNetworkVerdictIsExplained(t *testing.T) {
	for _, v := range nettests.NetworkVerdicts() {
		if networkText[v] == "" {
			t.Errorf("no sentence for %q", v)
		}
	}
	if len(networkText) != len(nettests.NetworkVerdicts()) {
		t.Errorf("%d sentences for %d verdicts", len(networkText), len(nettests.NetworkVerdicts()))
	}
}
