package dns_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	dnsnettest "github.com/vantage-probe/vantage/nettests/dns"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/dnstest"
	"github.com/vantage-probe/vantage/probe/runner"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	testStep    = 3 * time.Second
	siteIPv4    = "93.184.216.34"
	siteIPv6    = "2606:2800:220:1:248:1893:25c8:1946"
	forgedIPv4  = "10.10.34.35"
	injectDelay = time.Second // the window; the forged and real replies are 20 ms apart
)

// newMeasurer builds a dns measurer resolving with resolverURL.
func newMeasurer(t *testing.T, resolverURL string, opts netx.DNSOptions) *dnsnettest.Measurer {
	t.Helper()
	env := &nettests.Env{Netx: &netx.Client{Resolver: resolverURL, Timeout: testStep}}
	m, err := dnsnettest.NewWithConfig(env, dnsnettest.Config{DNS: opts})
	if err != nil {
		t.Fatalf("NewWithConfig: %v", err)
	}
	return m
}

func run(t *testing.T, m *dnsnettest.Measurer, input string) (*dnsnettest.TestKeys, error) {
	t.Helper()
	keys, err := m.Run(context.Background(), input, netx.NewTrace(time.Now(), nil))
	if err != nil {
		return nil, err
	}
	return keys.(*dnsnettest.TestKeys), nil
}

func TestRunResolvesHostsAndURLs(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{"example.test": dnstest.Answer(siteIPv4, siteIPv6)})
	m := newMeasurer(t, srv.UDPURL(), netx.DNSOptions{DuplicateWindow: -1})
	for _, input := range []string{"example.test", "https://example.test/some/path?q=1", " example.test "} {
		tk, err := run(t, m, input)
		if err != nil {
			t.Fatalf("Run(%q): %v", input, err)
		}
		if tk.Hostname != "example.test" || tk.Failure != nil || !slices.Equal(tk.Addrs, []string{siteIPv4, siteIPv6}) {
			t.Errorf("Run(%q) = host %q failure %v addrs %v", input, tk.Hostname, tk.Failure, tk.Addrs)
		}
		if tk.Engine != netx.EngineUDP || tk.ResolverURL != srv.UDPURL() || len(tk.Queries) != 2 || len(tk.XBogons) != 0 {
			t.Errorf("Run(%q) = engine %q resolver %q, %d queries, bogons %v", input, tk.Engine, tk.ResolverURL, len(tk.Queries), tk.XBogons)
		}
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	m := newMeasurer(t, "udp://127.0.0.1:1", netx.DNSOptions{})
	for _, input := range []string{"", "   ", "https://", "exa mple.test", "http://[::1", "a..b"} {
		if _, err := run(t, m, input); err == nil {
			t.Errorf("Run(%q) succeeded, want an input error", input)
		}
	}
}

func TestRunNetworkFailureIsAResult(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{"gone.test": dnstest.NXDOMAIN()})
	tk, err := run(t, newMeasurer(t, srv.TCPURL(), netx.DNSOptions{}), "gone.test")
	if err != nil {
		t.Fatalf("Run returned an error for a network failure: %v", err)
	}
	if tk.Failure == nil || *tk.Failure != netx.FailureDNSNXDOMAIN || tk.Rcode != 3 || len(tk.Addrs) != 0 {
		t.Errorf("keys = failure %v rcode %d addrs %v, want NXDOMAIN", tk.Failure, tk.Rcode, tk.Addrs)
	}
}

func TestRunReportsInjectionAndBogons(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{"censored.test": dnstest.Injected([]string{forgedIPv4}, dnstest.Answer(siteIPv4))})
	tk, err := run(t, newMeasurer(t, srv.UDPURL(), netx.DNSOptions{DuplicateWindow: injectDelay}), "censored.test")
	if err != nil {
		t.Fatal(err)
	}
	if !tk.XInjected || !slices.Equal(tk.XBogons, []string{forgedIPv4}) {
		t.Errorf("x_injected %v, x_bogons %v; want true and [%s]", tk.XInjected, tk.XBogons, forgedIPv4)
	}
}

func TestResolverComesFromTheEnvironment(t *testing.T) {
	cases := []struct {
		env  *nettests.Env
		cfg  dnsnettest.Config
		want string
	}{
		{&nettests.Env{Netx: &netx.Client{Resolver: "tcp://127.0.0.1:53"}}, dnsnettest.Config{}, "tcp://127.0.0.1:53"},
		{&nettests.Env{Netx: &netx.Client{Resolver: "tcp://127.0.0.1:53"}}, dnsnettest.Config{Resolver: "udp://127.0.0.1:5353"}, "udp://127.0.0.1:5353"},
		{&nettests.Env{Netx: &netx.Client{}}, dnsnettest.Config{Resolver: "udp://127.0.0.1:5353"}, "udp://127.0.0.1:5353"},
		{&nettests.Env{}, dnsnettest.Config{}, "system"},
	}
	for _, c := range cases {
		m, err := dnsnettest.NewWithConfig(c.env, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		tk, err := run(t, m, "192.0.2.1") // an IP literal: no query is sent
		if err != nil || tk.ResolverURL != c.want {
			t.Errorf("resolver = %q (%v), want %q", tk.ResolverURL, err, c.want)
		}
	}
	if _, err := dnsnettest.New(&nettests.Env{Netx: &netx.Client{Resolver: "ftp://x"}}); !errors.Is(err, netx.ErrBadResolverURL) {
		t.Errorf("New with a bad resolver: %v, want ErrBadResolverURL", err)
	}
}

func TestNewBuildsTheDNSTest(t *testing.T) {
	m, err := dnsnettest.New(&nettests.Env{})
	if err != nil || m.Name() != "dns" || m.Version() != dnsnettest.Version {
		t.Fatalf("New = %v, %v", m, err)
	}
}

// volatilePort matches what changes from run to run inside strings: the loopback
// port of the test server.
var volatilePort = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// normalise replaces the volatile fields of a measurement so that it can be
// compared with a golden file.
func normalise(t *testing.T, b []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("measurement is not JSON: %v", err)
	}
	// Times are not volatile: the clock is fixed, so they are pinned too.
	for _, k := range []string{"measurement_uid", "report_id", "software_version"} {
		m[k] = "(volatile)"
	}
	if ann, ok := m["annotations"].(map[string]any); ok {
		for _, k := range []string{"architecture", "platform", "go_version", "engine_version"} {
			ann[k] = "(volatile)"
		}
	}
	if tk, ok := m["test_keys"].(map[string]any); ok {
		queries, _ := tk["queries"].([]any)
		for _, q := range queries {
			ev := q.(map[string]any)
			if _, ok := ev["raw_response"]; ok {
				ev["raw_response"] = "(raw DNS message)"
			}
		}
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return volatilePort.ReplaceAll(out.Bytes(), []byte("127.0.0.1:PORT"))
}

func TestGoldenMeasurement(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{"example.test": dnstest.Answer(siteIPv4, siteIPv6)})
	m := newMeasurer(t, srv.UDPURL(), netx.DNSOptions{DuplicateWindow: -1})
	clock := time.Date(2026, 1, 5, 7, 5, 51, 0, time.UTC)
	id := runner.Origin{ProbeCC: "KZ", ProbeASN: "AS9198", ProbeNetworkName: "JSC Kazakhtelecom"}
	_, b, err := runner.Measure(context.Background(), m, "example.test", id, "report-id", func() time.Time { return clock })
	if err != nil {
		t.Fatalf("Measure: %v", err)
	}
	got := normalise(t, b)
	path := filepath.Join("testdata", "measurement.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test ./nettests/dns -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("measurement differs from %s (run with -update if the change is intended):\n%s", path, got)
	}
}
