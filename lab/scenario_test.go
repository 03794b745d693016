//go:build linux

package lab

import (
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/nettests"
)

func TestScenarioFilesParseAndCoverTheMethodology(t *testing.T) {
	all, err := Scenarios()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Scenario{}
	methods := map[string]bool{}
	networks := map[string]bool{}
	for _, sc := range all {
		byName[sc.Name] = sc
		networks[sc.Network] = true
		for _, u := range sc.URLs {
			methods[u.Method] = true
		}
		if sc.Description == "" {
			t.Errorf("%s has no description", sc.Name)
		}
	}
	for _, name := range []string{"kz-2022-shutdown", "kz-2022-beeline", "kz-2022-whitelist", "kz-2019-mitm",
		"clean", "site-down", "throttled-site", "throttled-network", "local-noroute", "local-linkdown", "upstream-dead"} {
		if byName[name] == nil {
			t.Errorf("scenario %s is missing", name)
		}
	}
	for _, m := range []string{nettests.MethodDNSNXDOMAIN, nettests.MethodDNSBogon, nettests.MethodDNSInconsistent,
		nettests.MethodDNSTimeout, nettests.MethodDNSFailure, nettests.MethodDNSInjection, nettests.MethodTCPTimeout,
		nettests.MethodTCPReset, nettests.MethodTCPUnreachable, nettests.MethodTLSReset, nettests.MethodTLSTimeout,
		nettests.MethodTLSEOF, nettests.MethodTLSMITM, nettests.MethodHTTPBlockpage, nettests.MethodHTTPDiff,
		nettests.MethodHTTPFailure, nettests.MethodQUICBlocked} {
		if !methods[m] {
			t.Errorf("no scenario expects method %s", m)
		}
	}
	for _, v := range networkVerdicts {
		if !networks[v] {
			t.Errorf("no scenario expects network verdict %s", v)
		}
	}
}

func TestParseScenarioRejectsMistakes(t *testing.T) {
	cases := map[string]string{
		"unknown key":         "network = \"online\"\ncolour = 1\n[[url]]\nurl = \"https://a.vlab/\"\nverdict = \"ok\"\n",
		"bad network":         "network = \"offline\"\n[[url]]\nurl = \"https://a.vlab/\"\nverdict = \"ok\"\n",
		"bad verdict":         "network = \"online\"\n[[url]]\nurl = \"https://a.vlab/\"\nverdict = \"fine\"\n",
		"blocked, no method":  "network = \"online\"\n[[url]]\nurl = \"https://a.vlab/\"\nverdict = \"blocked\"\n",
		"any_of, no why":      "network = \"online\"\n[[url]]\nurl = \"https://a.vlab/\"\nany_of = [\"ok\"]\n",
		"unknown block":       "network = \"online\"\n[[censor]]\nblock = \"magic\"\n[[url]]\nurl = \"https://a.vlab/\"\nverdict = \"ok\"\n",
		"unknown target":      "network = \"online\"\n[[censor]]\nblock = \"ip.drop\"\ntargets = [\"nowhere.vlab\"]\n[[url]]\nurl = \"https://a.vlab/\"\nverdict = \"ok\"\n",
		"site outside":        "network = \"online\"\n[[site]]\nname = \"x.vlab\"\naddr = \"10.0.0.1\"\n[[url]]\nurl = \"https://x.vlab/\"\nverdict = \"ok\"\n",
		"check with urls":     "command = \"check\"\nnetwork = \"online\"\n[[url]]\nurl = \"https://a.vlab/\"\nverdict = \"ok\"\n",
		"run without urls":    "network = \"online\"\n",
		"bad service verdict": "network = \"online\"\nnettest = \"tor\"\n[[service]]\nname = \"tor\"\nverdict = \"fine\"\n",
		"service on no site":  "network = \"online\"\nnettest = \"tor\"\n[[service]]\nname = \"tor\"\nverdict = \"ok\"\ntarget = [{ id = \"a\", role = \"dir_port\", site = \"nowhere.vlab\", port = 80 }]\n",
		"nettest with urls":   "network = \"online\"\nnettest = \"tor\"\n[[url]]\nurl = \"https://a.vlab/\"\nverdict = \"ok\"\n",
		"bad group":           "network = \"online\"\ngroups = [\"games\"]\n[[url]]\nurl = \"https://a.vlab/\"\nverdict = \"ok\"\n",
	}
	for name, text := range cases {
		if _, err := ParseScenario("t", []byte(text)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ok := "network = \"online\"\n[[url]]\nurl = \"https://a.vlab/\"\nverdict = \"ok\"\n"
	if _, err := ParseScenario("t", []byte(ok)); err != nil {
		t.Errorf("a minimal scenario was rejected: %v", err)
	}
}

func TestCompareChecksMethodAndReason(t *testing.T) {
	sc := &Scenario{Name: "s", Network: "online", URLs: []ExpectURL{
		{URL: "https://a/", Verdict: "blocked", Method: "tcp.reset"},
		{URL: "https://b/", AnyOf: []string{"blocked", "inconclusive"}, Method: "tcp.timeout", Reason: "no_control", Why: "w"},
		{URL: "https://c/", Verdict: "ok"},
		{URL: "https://d/", Verdict: "ok"},
	}}
	pr := &ProbeRun{NetworkVerdict: "online"}
	add := func(url, verdict, method, reason string) {
		var m Measurement
		m.Input, m.TestName = url, "web_connectivity"
		m.TestKeys.Verdict, m.TestKeys.Method, m.TestKeys.Reason = verdict, method, reason
		pr.Measurements = append(pr.Measurements, m)
	}
	add("https://a/", "blocked", "tcp.timeout", "")
	add("https://b/", "inconclusive", "", "no_control")
	add("https://c", "ok", "", "") // the probe may drop the trailing slash
	res := compare(sc, pr)
	want := []bool{false, true, true, false}
	for i, u := range res.URLs {
		if u.OK != want[i] {
			t.Errorf("%s: ok=%v, want %v (got %q)", u.URL, u.OK, want[i], u.Got)
		}
	}
	if !strings.Contains(res.Diff(), "https://d/\n  expected: ok\n  got:      (no measurement)") {
		t.Errorf("diff:\n%s", res.Diff())
	}
}

func TestBenchScenarioShares(t *testing.T) {
	sc, err := BenchScenario(DefaultBench)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, u := range sc.URLs {
		count[u.Verdict+" "+u.Method]++
	}
	want := map[string]int{"blocked tcp.timeout": 300, "blocked tcp.reset": 100, "ok ": 600}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%q: %d URLs, want %d (all: %v)", k, count[k], n, count)
		}
	}
	if len(sc.Censor) != 2 || len(sc.Censor[0].Targets) != 300 || len(sc.Censor[1].Targets) != 100 {
		t.Errorf("censor blocks do not match the expectations: %d blocks", len(sc.Censor))
	}
}

func TestLabPID(t *testing.T) {
	for name, want := range map[string]int{"vlab123-4-isp": 123, "vlab9-1-probe": 9, "vlabx-1-isp": 0, "other": 0, "vlab12": 0} {
		got, ok := labPID(name)
		if (want == 0) == ok || (ok && got != want) {
			t.Errorf("labPID(%q) = %d, %v; want %d", name, got, ok, want)
		}
	}
}

func TestCleanStaleSparesLiveLabs(t *testing.T) {
	requireLab(t)
	l := newTestLab(t, nil)
	if _, err := CleanStale(); err != nil {
		t.Fatal(err)
	}
	if got, _ := Leftovers(l.Topology.Prefix + "-"); len(got) == 0 {
		t.Fatal("CleanStale removed the namespaces of a live lab")
	}
}
