package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/connectivity"
	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/probe/history"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/store"
)

// cannedCheck is a measurer that returns fixed connectivity keys: check's wiring
// is under test here, the verdict is tested in nettests/connectivity.
type cannedCheck struct{ keys *connectivity.TestKeys }

func (c cannedCheck) Name() string    { return connectivity.Name }
func (c cannedCheck) Version() string { return connectivity.Version }
func (c cannedCheck) Run(context.Context, string, *netx.Trace) (any, error) {
	return c.keys, nil
}

func shutdownKeys() *connectivity.TestKeys {
	tk := &connectivity.TestKeys{Events: netx.Events{}, RoundStarts: []float64{0, 2, 4}, Duration: 21.5}
	tk.Verdict, tk.Reason = nettests.NetworkFullShutdown, connectivity.ReasonAllCanariesSilent
	tk.Ratios = map[string]map[string]connectivity.Tally{
		connectivity.ClassForeign: {connectivity.ProtoTCP: {OK: 0, Attempts: 24}, connectivity.ProtoDNS: {OK: 3, Attempts: 3}},
	}
	tk.Local.FirstHop.TCPAnswered = true
	tk.Local.Resolver.Answered = true
	return tk
}

func testDeps(t *testing.T, keys *connectivity.TestKeys) checkDeps {
	return checkDeps{
		connectivity: func(*config.Config, *nettests.Env) (nettests.Measurer, error) { return cannedCheck{keys}, nil },
		openHistory:  func(dir string) (connectivityHistory, error) { return store.Open(dir) },
		networkKey:   func() string { return "net-test" },
		now:          time.Now,
	}
}

func TestRunCheckPrintsAndStores(t *testing.T) {
	cfg := config.Defaults()
	cfg.Storage.Dir = t.TempDir()
	cfg.Probe.Country, cfg.Probe.ASN = "KZ", "AS21299"
	var out, errOut bytes.Buffer
	if err := runCheck(context.Background(), &out, &errOut, cfg, false, testDeps(t, shutdownKeys())); err != nil {
		t.Fatal(err)
	}
	line := out.String()
	for _, want := range []string{"full_shutdown:", "foreign dns 3/3 tcp 0/24", "gateway up, resolver answers", "3 rounds"} {
		if !strings.Contains(line, want) {
			t.Errorf("summary %q lacks %q", line, want)
		}
	}
	if strings.Count(line, "\n") != 1 {
		t.Errorf("summary is not one line: %q", line)
	}
	out.Reset()
	if err := runCheck(context.Background(), &out, &errOut, cfg, true, testDeps(t, shutdownKeys())); err != nil {
		t.Fatal(err)
	}
	var meas struct {
		TestName string `json:"test_name"`
		ProbeCC  string `json:"probe_cc"`
		TestKeys struct {
			Verdict string `json:"verdict"`
		} `json:"test_keys"`
	}
	if err := json.Unmarshal(out.Bytes(), &meas); err != nil {
		t.Fatalf("--json output is not one measurement: %v\n%s", err, out.String())
	}
	if meas.TestName != connectivity.Name || meas.ProbeCC != "KZ" || meas.TestKeys.Verdict != nettests.NetworkFullShutdown {
		t.Errorf("measurement %+v", meas)
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr: %s", errOut.String())
	}
	st, err := store.Open(cfg.Storage.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err := history.Read(context.Background(), st, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Verdict != nettests.NetworkFullShutdown || recs[0].ProbeASN != "AS21299" || recs[0].NetworkKey != "net-test" {
		t.Fatalf("history %+v", recs)
	}
	if ev := recs[0].Evidence; ev.Reason != connectivity.ReasonAllCanariesSilent || !ev.FirstHopAlive || ev.Phase != history.PhaseCheck || ev.MeasurementUID == "" {
		t.Fatalf("evidence %+v", ev)
	}
}

// TestRunCheckWithoutStore: a store that cannot open costs the history, not the
// verdict.
func TestRunCheckWithoutStore(t *testing.T) {
	cfg := config.Defaults()
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o600)
	cfg.Storage.Dir = filepath.Join(blocker, "sub") // a directory under a file: cannot exist
	var out, errOut bytes.Buffer
	if err := runCheck(context.Background(), &out, &errOut, cfg, false, testDeps(t, shutdownKeys())); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "full_shutdown:") || !strings.Contains(errOut.String(), "not kept in the history") {
		t.Fatalf("stdout %q stderr %q", out.String(), errOut.String())
	}
}

func TestRenderTimeline(t *testing.T) {
	day := func(d, h int) time.Time { return time.Date(2022, 1, d, h, 0, 0, 0, time.UTC) }
	points := []history.Point{
		{Time: day(8, 1), Verdict: nettests.NetworkWhitelist}, {Time: day(8, 2), Verdict: nettests.NetworkWhitelist},
		{Time: day(8, 3), Verdict: nettests.NetworkFullShutdown}, {Time: day(8, 4), Verdict: nettests.NetworkFullShutdown},
		{Time: day(8, 12), Verdict: nettests.NetworkWhitelist}, {Time: day(8, 13), Verdict: nettests.NetworkWhitelist},
	}
	var b bytes.Buffer
	if err := renderTimeline(&b, history.Windows(points, history.DefaultMaxGap), day(8, 0)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	// The 04:00 → 12:00 silence (8 h) is longer than the maximum gap: the shutdown
	// window ends at its last check and the silence is shown.
	want := []string{
		"network timeline (UTC): 4 windows, 6 checks since 2022-01-08 00:00",
		"2022-01-08 01:00 -> 2022-01-08 03:00     2h00m  allow  whitelist         2 checks",
		"2022-01-08 03:00 -> 2022-01-08 04:00     1h00m  OFF    full_shutdown     2 checks",
		"2022-01-08 04:00 -> 2022-01-08 12:00     8h00m  -      no_data           0 checks",
		"2022-01-08 12:00 -> 2022-01-08 13:00     1h00m  allow  whitelist         2 checks",
	}
	if len(lines) != len(want) {
		t.Fatalf("got\n%s", b.String())
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d:\n got %q\nwant %q", i, lines[i], want[i])
		}
	}
}

// TestCheckIsolated runs the binary in a loopback-only namespace: the verdict must
// be local_failure, and the check must not hang on the unreachable canaries.
func TestCheckIsolated(t *testing.T) {
	bin := os.Getenv("VANTAGE_BIN")
	if bin == "" {
		t.Skip("VANTAGE_BIN not set (make test sets it)")
	}
	if probe := isolatedArgv("true"); exec.Command(probe[0], probe[1:]...).Run() != nil {
		t.Skip("cannot create a network namespace here (needs root or user namespaces)")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.toml")
	os.WriteFile(cfgPath, []byte("[probe]\ncountry = \"KZ\"\n[storage]\ndir = \""+dir+"\"\n"), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	argv := isolatedArgv(bin, "check", "--config", cfgPath, "--json")
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	var meas struct {
		TestKeys struct {
			Verdict string `json:"verdict"`
		} `json:"test_keys"`
	}
	if err := json.Unmarshal(out, &meas); err != nil || meas.TestKeys.Verdict != nettests.NetworkLocalFailure {
		t.Fatalf("verdict %q (%v)\n%s", meas.TestKeys.Verdict, err, out)
	}
	argv = isolatedArgv(bin, "check", "--config", cfgPath, "--history")
	hist, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	if err != nil || !strings.Contains(string(hist), "local_failure") {
		t.Fatalf("history: %v\n%s", err, hist)
	}
}

// TestEveryNetworkVerdictHasAState: the timeline's short states follow the one
// verdict list.
func TestEveryNetworkVerdictHasAState(t *testing.T) {
	for _, v := range append(nettests.NetworkVerdicts(), history.NoData) {
		if stateOf[v] == "" {
			t.Errorf("no state for %q", v)
		}
	}
	if len(stateOf) != len(nettests.NetworkVerdicts())+1 {
		t.Errorf("%d states for %d verdicts", len(stateOf), len(nettests.NetworkVerdicts()))
	}
}
