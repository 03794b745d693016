package registry

import (
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/webconnectivity"
	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/probe/netx"
)

// aliases are the spellings Lookup accepts for a name: as registered, without
// separators, and with dashes for underscores.
func aliases(name string) []string {
	return []string{name, strings.NewReplacer("_", "", "-", "").Replace(name), strings.ReplaceAll(name, "_", "-")}
}

func TestLookupEveryAliasGivesTheSameDescriptor(t *testing.T) {
	for _, d := range All() {
		for _, alias := range aliases(d.Name) {
			got, err := Lookup(alias)
			if err != nil {
				t.Fatalf("Lookup(%q): %v", alias, err)
			}
			if got.Name != d.Name || got.Input != d.Input || got.Gated != d.Gated || got.Group != d.Group {
				t.Errorf("Lookup(%q) = %+v, want %+v", alias, got, d)
			}
		}
	}
	if _, err := Lookup("nope"); err == nil || !strings.Contains(err.Error(), "web_connectivity") {
		t.Errorf("unknown name: %v", err)
	}
}

// TestDescriptors pins what the runner relies on: web_connectivity takes URLs and
// is gated (and so says how to skip a URL), the network test takes no input, the
// single-step tests take endpoints; every descriptor builds its nettest.
func TestDescriptors(t *testing.T) {
	want := map[string]struct {
		input InputKind
		gated bool
		group string
	}{
		"connectivity":       {InputNone, false, GroupNetwork},
		"dns":                {InputEndpoints, false, GroupNetwork},
		"http":               {InputEndpoints, false, GroupNetwork},
		"http3":              {InputEndpoints, false, GroupNetwork},
		"tcpconnect":         {InputEndpoints, false, GroupNetwork},
		"tlshandshake":       {InputEndpoints, false, GroupNetwork},
		"web_connectivity":   {InputURLs, true, GroupWebsites},
		"facebook_messenger": {InputNone, true, GroupIM},
		"signal":             {InputNone, true, GroupIM},
		"telegram":           {InputNone, true, GroupIM},
		"whatsapp":           {InputNone, true, GroupIM},
		"tor":                {InputNone, true, GroupCircumvention},
		"dnscheck":           {InputNone, true, GroupCircumvention},
	}
	if len(All()) != len(want) {
		t.Fatalf("%d descriptors, want %d: %v", len(All()), len(want), Names())
	}
	for _, d := range All() {
		w, ok := want[d.Name]
		if !ok || d.Input != w.input || d.Gated != w.gated || d.Group != w.group || (d.Skipped != nil) != d.Gated {
			t.Errorf("%s: %+v", d.Name, d)
		}
		m, err := d.New(config.Defaults(), &nettests.Env{Netx: &netx.Client{}})
		if err != nil || m.Name() != d.Name || m.Version() != d.Version {
			t.Errorf("%s: New = %v, %v", d.Name, m, err)
		}
	}
	for _, d := range All() {
		if !d.Gated || d.Group == GroupWebsites {
			continue
		}
		sr, ok := d.Skipped("", nettests.ReasonLocalFailure).(nettests.ServiceResult)
		if v, _ := sr.ServiceVerdict(); !ok || v != nettests.VerdictInconclusive {
			t.Errorf("%s: skipped keys %v", d.Name, sr)
		}
	}
	keys := MustLookup(webconnectivity.Name).Skipped("https://example.org/", nettests.ReasonFullShutdown)
	if v, _ := keys.(nettests.URLResult).URLVerdict(); v != nettests.VerdictInconclusive {
		t.Errorf("skipped keys verdict %q", v)
	}
}

func TestWebConnectivityConfig(t *testing.T) {
	c, err := config.Parse([]byte(`
[network]
second_resolver = "udp://127.0.0.1:5353"
[control]
helpers = ["https://h1.example/", "https://h2.example/"]
benign_sni = "benign.example"
[run]
timeout = 3.5
retries = 5
`), "test.toml")
	if err != nil {
		t.Fatal(err)
	}
	got := WebConnectivityConfig(c)
	if len(got.Helpers) != 2 || got.Helpers[1] != "https://h2.example/" || got.SecondResolver != "udp://127.0.0.1:5353" ||
		got.BenignSNI != "benign.example" || got.Retries != 5 || !got.QUIC {
		t.Errorf("config %+v", got)
	}
	if want := webconnectivity.FixedTimeouts(3500 * time.Millisecond); got.Timeouts != want {
		t.Errorf("timeouts %+v, want %+v", got.Timeouts, want)
	}
	d := WebConnectivityConfig(config.Defaults())
	if d.Retries != 0 || d.BenignSNI != "" || d.Timeouts.Initial != 0 || len(d.Helpers) != 0 || !d.QUIC {
		t.Errorf("defaults %+v: the nettest fills them", d)
	}
}

func TestConnectivityConfig(t *testing.T) {
	c := config.Defaults()
	c.Probe.Country, c.Network.Resolver = "KZ", "udp://127.0.0.1:53"
	c.Canaries.Domestic, c.Canaries.Allowlisted, c.Canaries.Foreign = []string{"d:443"}, []string{"a:443"}, []string{"f:443"}
	got := ConnectivityConfig(c)
	if got.Country != "KZ" || got.Resolver != "udp://127.0.0.1:53" || got.Canaries.Domestic[0] != "d:443" ||
		got.Canaries.Allowlisted[0] != "a:443" || got.Canaries.Foreign[0] != "f:443" {
		t.Errorf("config %+v", got)
	}
}

// TestDNSConfig: the environment's resolver wins; the file's is used without one.
func TestDNSConfig(t *testing.T) {
	c := config.Defaults()
	c.Network.Resolver = "udp://127.0.0.1:5353"
	if got := DNSConfig(c, &nettests.Env{Netx: &netx.Client{Resolver: "tcp://127.0.0.1:53"}}); got.Resolver != "" {
		t.Errorf("with an environment resolver: %q", got.Resolver)
	}
	if got := DNSConfig(c, &nettests.Env{Netx: &netx.Client{}}); got.Resolver != "udp://127.0.0.1:5353" {
		t.Errorf("without: %q", got.Resolver)
	}
}

// TestTargetsOverride: [targets] reaches the nettest, and a missing file is an
// error naming it rather than the embedded list measured instead.
func TestTargetsOverride(t *testing.T) {
	c := config.Defaults()
	c.Targets.Telegram = "/nonexistent/telegram.json"
	_, err := MustLookup("telegram").New(c, &nettests.Env{Netx: &netx.Client{}})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/telegram.json") {
		t.Errorf("New with a missing target file: %v", err)
	}
}

// TestGroups: run order whatever the order given, each group's members, and
// every member's descriptor in that group; unknown names are errors.
func TestGroups(t *testing.T) {
	names := func(ds []Descriptor) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Name)
		}
		return out
	}
	got, err := Groups([]string{"circumvention", "im", "websites"})
	want := []string{"web_connectivity", "whatsapp", "telegram", "signal", "facebook_messenger", "tor", "dnscheck"}
	if err != nil || strings.Join(names(got), ",") != strings.Join(want, ",") {
		t.Errorf("Groups = %v, %v", names(got), err)
	}
	for _, g := range RunGroups() {
		ds, _ := Groups([]string{g})
		for _, d := range ds {
			if d.Group != g || !d.Gated {
				t.Errorf("%s in group %s: descriptor %+v", d.Name, g, d)
			}
		}
	}
	for _, bad := range [][]string{{"network"}, {"im", "nope"}, {}} {
		if _, err := Groups(bad); err == nil {
			t.Errorf("Groups(%v) accepted", bad)
		}
	}
}
