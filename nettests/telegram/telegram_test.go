package telegram_test

import (
	"context"
	"flag"
	"net/http"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/internal/service"
	"github.com/vantage-probe/vantage/nettests/internal/service/servicetest"
	"github.com/vantage-probe/vantage/nettests/telegram"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
	"github.com/vantage-probe/vantage/probe/runner"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// world is two data centre addresses and the web client on loopback.
type world struct {
	ca      *netxtest.CA
	net     *servicetest.Net
	targets []service.Target
}

func newWorld(t *testing.T) *world {
	ca := netxtest.MustCA(t, "Test Root")
	n := servicetest.NewNet()
	dc := func() string { return netxtest.NewHTTPServer(t, http.NotFoundHandler()).Addr }
	web := netxtest.NewHTTPSServer(t, netxtest.MustIssue(t, ca, "web.telegram.org"), http.NotFoundHandler())
	return &world{ca: ca, net: n, targets: []service.Target{
		n.Target("dc1:443", "dc", "149.154.175.50", 443, dc(), ""),
		n.Target("dc2:443", "dc", "149.154.167.51", 443, dc(), ""),
		n.Target("web.telegram.org", "web", "web.telegram.org", 443, web.Addr, "/"),
	}}
}

func (w *world) measurer(t *testing.T, fail map[string]error) *telegram.Measurer {
	path := servicetest.WriteTargets(t, service.List{Targets: w.targets})
	if fail != nil {
		clear(w.net.Fail)
		for a, err := range fail {
			w.net.Fail[a] = err
		}
	}
	m, err := telegram.New(w.net.Env(w.ca), telegram.Config{Targets: path, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func run(t *testing.T, m *telegram.Measurer) *telegram.TestKeys {
	t.Helper()
	keys, err := m.Run(context.Background(), "", netx.NewTrace(time.Now(), nil))
	if err != nil {
		t.Fatal(err)
	}
	return keys.(*telegram.TestKeys)
}

func TestScenarios(t *testing.T) {
	w := newWorld(t)
	dc1, dc2, web := servicetest.Addr(w.targets[0]), servicetest.Addr(w.targets[1]), servicetest.Addr(w.targets[2])
	cases := []struct {
		name                 string
		fail                 map[string]error
		verdict, blocked     string
		tcpBlocking, httpBlk bool
		webStatus            string
	}{
		{"no censorship", map[string]error{}, "ok", "", false, false, "ok"},
		{"one DC down", map[string]error{dc2: servicetest.ErrRefused}, "ok", "", false, false, "ok"},
		// The trap: the web client answering does not make Telegram reachable.
		{"every DC dropped, web ok", map[string]error{dc1: servicetest.ErrTimeout, dc2: servicetest.ErrTimeout}, "blocked", "data centres: tcp.timeout", true, true, "ok"},
		{"web client blocked only", map[string]error{web: servicetest.ErrRefused}, "degraded", "web client: tcp.reset", false, false, "blocked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tk := run(t, w.measurer(t, c.fail))
			if v, b := tk.ServiceVerdict(); v != c.verdict || b != c.blocked {
				t.Errorf("verdict %q %q, want %q %q; endpoints %+v", v, b, c.verdict, c.blocked, tk.Endpoints)
			}
			if tk.TelegramTCPBlocking != c.tcpBlocking || tk.TelegramHTTPBlocking != c.httpBlk || tk.TelegramWebStatus != c.webStatus {
				t.Errorf("OONI keys tcp=%v http=%v web=%q", tk.TelegramTCPBlocking, tk.TelegramHTTPBlocking, tk.TelegramWebStatus)
			}
			if (c.webStatus == "blocked") != (tk.TelegramWebFailure != nil) {
				t.Errorf("telegram_web_failure %v with status %s", tk.TelegramWebFailure, tk.TelegramWebStatus)
			}
		})
	}
}

// TestHTTPBlockingWithoutTCPBlocking: data centres that accept the connection and
// then never answer HTTP (a black hole after the handshake) are OONI's http blocking, not tcp blocking.
func TestHTTPBlockingWithoutTCPBlocking(t *testing.T) {
	w := newWorld(t)
	w.targets[0] = w.net.Target("dc1", "dc", "149.154.175.50", 80, netxtest.NewBlackHole(t), "")
	w.targets[1] = w.net.Target("dc2", "dc", "149.154.167.51", 80, netxtest.NewBlackHole(t), "")
	tk := run(t, w.measurer(t, nil))
	if tk.TelegramTCPBlocking || !tk.TelegramHTTPBlocking || tk.Verdict != "blocked" {
		t.Errorf("tcp=%v http=%v verdict %s", tk.TelegramTCPBlocking, tk.TelegramHTTPBlocking, tk.Verdict)
	}
}

func TestNetworkDownMakesFailuresInconclusive(t *testing.T) {
	w := newWorld(t)
	path := servicetest.WriteTargets(t, service.List{Targets: w.targets})
	w.net.Fail[servicetest.Addr(w.targets[0])] = servicetest.ErrTimeout
	w.net.Fail[servicetest.Addr(w.targets[1])] = servicetest.ErrTimeout
	env := w.net.Env(w.ca)
	env.Network = servicetest.Network{VerdictValue: nettests.NetworkOnline, Up: false}
	m, err := telegram.New(env, telegram.Config{Targets: path})
	if err != nil {
		t.Fatal(err)
	}
	tk := run(t, m)
	if tk.Verdict != "inconclusive" || tk.Reason == nil || *tk.Reason != nettests.ReasonNetworkUnknown {
		t.Errorf("verdict %s reason %v: canaries down during the test", tk.Verdict, tk.Reason)
	}
}

func TestRefusesInputAndBadTargets(t *testing.T) {
	m, err := telegram.New(nil, telegram.Config{})
	if err != nil {
		t.Fatalf("embedded targets: %v", err)
	}
	if _, err := m.Run(context.Background(), "https://example.org/", netx.NewTrace(time.Now(), nil)); err == nil {
		t.Error("accepted an input")
	}
	if _, err := telegram.New(nil, telegram.Config{Targets: "/nonexistent.json"}); err == nil {
		t.Error("accepted a missing target file")
	}
}

func TestGoldenMeasurement(t *testing.T) {
	w := newWorld(t)
	m := w.measurer(t, map[string]error{servicetest.Addr(w.targets[1]): servicetest.ErrRefused})
	clock := time.Date(2022, 1, 4, 12, 0, 0, 0, time.UTC)
	id := runner.Origin{ProbeCC: "KZ", ProbeASN: "AS9198", ProbeNetworkName: "JSC Kazakhtelecom"}
	_, b, err := runner.Measure(context.Background(), m, "", id, "report-id", func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	netxtest.CompareGolden(t, "measurement.golden.json", netxtest.NormaliseMeasurement(t, b), *update)
}
