//go:build linux

package lab

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var scenarioFilter = flag.String("scenario", "", "run only the lab scenarios whose name matches this regexp")

// envFakeVantage turns the test binary into a stand-in for vantage (see fakeVantage).
const envFakeVantage = "LAB_FAKE_VANTAGE"

// envLabParallel overrides how many scenarios run at once.
const envLabParallel = "VANTAGE_LAB_PARALLEL"

// defaultScenarioParallelism: scenarios mostly wait on timeouts, so more of them
// than cores can run at once; each is three namespaces and two processes.
const defaultScenarioParallelism = 8

// rootlessProblem says why the tests could not move into a user namespace.
var rootlessProblem error

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
	binaryDir  string
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envFakeVantage); mode != "" {
		os.Exit(fakeVantage(mode, os.Args[1:]))
	}
	flag.Parse()
	if code, ran, err := RootlessReexec(); ran {
		os.Exit(code)
	} else if err != nil {
		rootlessProblem = err
	}
	code := m.Run()
	if binaryDir != "" {
		os.RemoveAll(binaryDir)
	}
	os.Exit(code)
}

// vantageBinary returns the real binary ($VANTAGE_BIN, else built once per run).
func vantageBinary(t testing.TB) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vantage-lab-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryDir = dir
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		wd, _ := os.Getwd()
		binaryPath, binaryErr = FindBinary(ctx, wd, dir)
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// TestScenarios runs every scenario against the real binary, several at once, and
// checks each URL verdict and the network verdict.
func TestScenarios(t *testing.T) {
	requireLab(t)
	if testing.Short() {
		t.Skip("lab scenarios take minutes; skipped with -short")
	}
	bin := vantageBinary(t)
	all, err := Scenarios()
	if err != nil {
		t.Fatal(err)
	}
	var picked []*Scenario
	re := regexp.MustCompile(*scenarioFilter)
	for _, sc := range all {
		if re.MatchString(sc.Name) {
			picked = append(picked, sc)
		}
	}
	type outcome struct {
		res *Result
		err error
	}
	outcomes := make([]outcome, len(picked))
	sem := make(chan struct{}, scenarioParallelism())
	var wg sync.WaitGroup
	for i, sc := range picked {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), DefaultProbeTimeout+time.Minute)
			defer cancel()
			res, err := RunScenario(ctx, sc, Options{Binary: bin})
			outcomes[i] = outcome{res, err}
		}()
	}
	wg.Wait()
	for i, sc := range picked {
		t.Run(sc.Name, func(t *testing.T) {
			o := outcomes[i]
			if o.res != nil {
				t.Logf("probe %v, peak RSS %d KiB\n%s", o.res.Probe.Wall.Round(time.Millisecond), o.res.Probe.MaxRSSKiB, o.res.Table())
			}
			if o.err != nil {
				t.Fatalf("scenario %s could not run: %v", sc.Name, o.err)
			}
			switch {
			case sc.Pending != "" && o.res.Passed():
				t.Errorf("scenario %s is marked pending (%s) but now passes: remove the marker", sc.Name, sc.Pending)
			case sc.Pending != "":
				t.Skipf("pending (%s); wrong verdicts:\n%s", sc.Pending, o.res.Diff())
			case !o.res.Passed():
				t.Errorf("wrong verdicts (probe %v, peak RSS %d KiB):\n%s", o.res.Probe.Wall.Round(time.Millisecond), o.res.Probe.MaxRSSKiB, o.res.Diff())
			}
		})
	}
	if leftovers, err := Leftovers(PrefixOfProcess()); err != nil || len(leftovers) > 0 {
		t.Errorf("after the scenarios: leftovers %v, %v", leftovers, err)
	}
}

func scenarioParallelism() int {
	if n, err := strconv.Atoi(os.Getenv(envLabParallel)); err == nil && n > 0 {
		return n
	}
	return defaultScenarioParallelism
}

// TestTeardownLeavesNothing builds a lab with every kind of moving part (servers,
// an NFQUEUE injector, a flipper goroutine, tc qdiscs, a child process), closes it
// and looks for anything left: namespaces, /etc/netns files, processes, sockets.
func TestTeardownLeavesNothing(t *testing.T) {
	requireLab(t)
	fdsBefore := openFDs(t)
	ctx := context.Background()
	l, err := Build(ctx, testSites)
	if err != nil {
		t.Fatal(err)
	}
	prefix := l.Topology.Prefix + "-"
	err = l.Apply(ctx, []Block{
		{Kind: "dns.inject", Targets: []string{"news.world.vlab"}},
		{Kind: "flip", On: 0.2, Off: 0.2},
		{Kind: "throttle", Targets: []string{"local.kz.vlab"}, Rate: "1mbit"},
		{Kind: "loss", Percent: 1},
		{Kind: "sni.reset", Targets: []string{"news.world.vlab"}},
		{Kind: "tls.mitm.sni", Targets: []string{"local.kz.vlab"}},
	})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	if err := l.startHelper(ctx, fakeBinary(t, "helper")); err != nil {
		l.Close()
		t.Fatal(err)
	}
	// Three namespaces and (as real root) two /etc/netns directories exist now:
	// the check after Close looks at the right names.
	want := 5
	if os.Getenv(EnvUserns) != "" {
		want = 3
	}
	if got, err := Leftovers(prefix); err != nil || len(got) != want {
		l.Close()
		t.Fatalf("before Close: leftovers %v, %v; want %d", got, err, want)
	}
	if procs := markedProcesses(t, l.Topology.Prefix); len(procs) == 0 {
		l.Close()
		t.Fatal("the helper stand-in is not running: the process check below would prove nothing")
	}
	if err := l.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if got, err := Leftovers(prefix); err != nil || len(got) > 0 {
		t.Errorf("leftovers after Close: %v %v", got, err)
	}
	if procs := markedProcesses(t, l.Topology.Prefix); len(procs) > 0 {
		t.Errorf("processes still running after Close: %v", procs)
	}
	if _, err := os.Stat(l.Dir); !os.IsNotExist(err) {
		t.Errorf("lab directory %s still exists: %v", l.Dir, err)
	}
	if after := openFDs(t); after > fdsBefore {
		t.Errorf("open file descriptors: %d before the lab, %d after Close (a listener or socket leaked)", fdsBefore, after)
	}
}

// TestCancelTearsDown cancels a scenario while the probe runs (what Ctrl-C does to
// `vantage lab run`) and checks the lab is gone.
func TestCancelTearsDown(t *testing.T) {
	requireLab(t)
	sc, err := LookupScenario("tcp-reset")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var prefix string
	opts := Options{Binary: fakeBinary(t, "hang"), Log: func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		if strings.Contains(line, "running the probe") {
			cancel()
		}
		if i := strings.Index(line, "lab "); i >= 0 && prefix == "" {
			prefix = strings.Fields(line[i+4:])[0]
		}
	}}
	_, err = RunScenario(ctx, sc, opts)
	if err == nil {
		t.Fatal("a cancelled scenario reported success")
	}
	if prefix == "" {
		t.Fatal("the lab's prefix was never logged")
	}
	if got, err := Leftovers(prefix + "-"); err != nil || len(got) > 0 {
		t.Errorf("leftovers after cancel: %v %v", got, err)
	}
	if procs := markedProcesses(t, prefix); len(procs) > 0 {
		t.Errorf("processes still running after cancel: %v", procs)
	}
}

// TestStandInProbeVerdictsAreCompared runs a scenario with a stand-in probe whose
// answers are known, to check the comparison and the diff end to end.
func TestStandInProbeVerdictsAreCompared(t *testing.T) {
	requireLab(t)
	sc, err := LookupScenario("tcp-reset")
	if err != nil {
		t.Fatal(err)
	}
	res, err := RunScenario(context.Background(), sc, Options{Binary: fakeBinary(t, "answer")})
	if err != nil {
		t.Fatal(err)
	}
	// The stand-in says ok for everything and online: the blocked URL must fail.
	if res.Passed() {
		t.Fatalf("a probe that saw no blocking passed tcp-reset:\n%s", res.Table())
	}
	diff := res.Diff()
	for _, want := range []string{"scenario tcp-reset: https://blocked.world.vlab/", "expected: blocked tcp.reset", "got:      ok", `evidence: {"stand_in":true}`} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	if strings.Contains(diff, "news.world.vlab") || strings.Contains(diff, "network verdict") {
		t.Errorf("diff lists verdicts that matched:\n%s", diff)
	}
}

// fakeBinary returns a script that runs this test binary as a vantage stand-in.
func fakeBinary(t *testing.T, mode string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/vantage"
	script := fmt.Sprintf("#!/bin/sh\nexport %s=%s\nexec %q \"$@\"\n", envFakeVantage, mode, exe)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// fakeVantage is the stand-in: "helper serve" serves HTTP on --listen; "run" and
// "check" either hang until killed (mode hang) or print an all-ok run (mode answer).
func fakeVantage(mode string, args []string) int {
	if len(args) >= 2 && args[0] == "helper" && args[1] == "serve" {
		for i := 2; i+1 < len(args); i++ {
			if args[i] == "--listen" {
				l, err := net.Listen("tcp", args[i+1])
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
				http.Serve(l, http.NotFoundHandler())
			}
		}
		return 2
	}
	if mode == "hang" {
		time.Sleep(time.Hour)
		return 0
	}
	var list string
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--input-file" {
			list = args[i+1]
		}
	}
	data, _ := os.ReadFile(list)
	for _, u := range strings.Fields(string(data)) {
		fmt.Printf(`{"input":%q,"test_name":"web_connectivity","test_keys":{"verdict":"ok","method":null,"evidence":{"stand_in":true}}}`+"\n", u)
	}
	fmt.Println(`{"summary":{"network_verdict":"online","urls":{"ok":2}}}`)
	return 0
}

// markedProcesses lists processes whose environment carries the lab's marker.
func markedProcesses(t *testing.T, prefix string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	marker := []byte(EnvRunMarker + "=" + prefix + "\x00")
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue // gone, or a kernel thread
		}
		if strings.Contains(string(env)+"\x00", string(marker)) {
			out = append(out, e.Name())
		}
	}
	return out
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// BenchmarkLab is the lab benchmark of issue 5 (DefaultBench: 1,000 URLs, 30 %
// black-holed, 10 % reset): wall time and peak RSS of the probe, and the share of
// right verdicts. One iteration takes about a minute; run it with
// go test -run '^$' -bench Lab -benchtime 1x ./lab
func BenchmarkLab(b *testing.B) {
	requireLab(b)
	bin := vantageBinary(b)
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*DefaultProbeTimeout)
		res, err := RunBench(ctx, DefaultBench, Options{Binary: bin, ProbeTimeout: 2 * DefaultProbeTimeout})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%v", res)
		b.ReportMetric(res.Wall.Seconds(), "probe-s")
		b.ReportMetric(float64(res.MaxRSSKiB)/1024, "peak-RSS-MiB")
		b.ReportMetric(100*res.Accuracy(), "accuracy-%")
	}
}
