package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/report/limits"
)

func TestParseFullFile(t *testing.T) {
	text := `
[probe]
country = "KZ"
asn = "AS9198"
informed_consent = true

[network]
resolver = "udp://10.0.0.53:53"

[tls]
roots = "/etc/lab/ca.pem"

[control]
helpers = ["http://10.9.0.2:8080", "https://th.example.org"]

[canaries]
domestic = ["https://egov.kz/", "10.1.0.10:443"]
foreign = ["1.1.1.1:443"]
allowlisted = ["https://bank.example.kz/", "10.1.0.20:443"]

[upload]
enabled = true
collector = "https://collector.example.org"

[storage]
dir = "/var/lib/vantage"
`
	cfg, err := Parse([]byte(text), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Probe.Country != "KZ" || cfg.Probe.ASN != "AS9198" || !cfg.Probe.InformedConsent {
		t.Errorf("probe = %+v", cfg.Probe)
	}
	if cfg.Network.Resolver != "udp://10.0.0.53:53" || cfg.TLS.Roots != "/etc/lab/ca.pem" {
		t.Errorf("network/tls = %+v %+v", cfg.Network, cfg.TLS)
	}
	if len(cfg.Control.Helpers) != 2 || len(cfg.Canaries.Domestic) != 2 || cfg.Canaries.Foreign[0] != "1.1.1.1:443" {
		t.Errorf("lists = %+v %+v", cfg.Control, cfg.Canaries)
	}
	if len(cfg.Canaries.Allowlisted) != 2 || cfg.Canaries.Allowlisted[1] != "10.1.0.20:443" {
		t.Errorf("allowlisted = %+v", cfg.Canaries.Allowlisted)
	}
	if !cfg.Upload.Enabled || cfg.Storage.Dir != "/var/lib/vantage" {
		t.Errorf("upload/storage = %+v %+v", cfg.Upload, cfg.Storage)
	}
	// Defaults survive for keys the file does not set.
	if cfg.TLS.ClientHello != "chrome" {
		t.Errorf("client_hello default lost: %q", cfg.TLS.ClientHello)
	}
}

func TestParseErrorsNameFileLineAndKey(t *testing.T) {
	cases := []struct {
		name, text string
		wantKey    string
		wantLine   int
		wantMsg    string
	}{
		{"unknown key", "[probe]\ncountry = \"KZ\"\ncountyr = \"KZ\"\n", "probe.countyr", 3, "unknown key"},
		{"unknown table", "[nope]\nx = 1\n", "nope", 1, "unknown key"},
		{"bad country", "[probe]\n\ncountry = \"kz\"\n", "probe.country", 3, "two-letter"},
		{"bad asn", "[probe]\nasn = \"9198\"\n", "probe.asn", 2, "AS1234"},
		{"bad resolver", "[network]\nresolver = \"8.8.8.8\"\n", "network.resolver", 2, "want system"},
		{"resolver without port", "[network]\nresolver = \"udp://10.0.0.1\"\n", "network.resolver", 2, "IP:PORT"},
		{"bad helper", "[control]\nhelpers = [\"ftp://x\"]\n", "control.helpers", 2, "http://"},
		{"empty allowlisted canary", "[canaries]\nallowlisted = [\"https://bank.kz/\", \" \"]\n", "canaries.allowlisted", 2, "not a URL"},
		{"allowlisted canary with a space", "[canaries]\nallowlisted = [\"bank kz\"]\n", "canaries.allowlisted", 2, "not a URL"},
		{"upload without collector", "[upload]\nenabled = true\n", "upload.collector", 0, "no collector"},
		{"upload with empty collectors", "[upload]\nenabled = true\ncollectors = []\n", "upload.collector", 0, "no collector"},
		{"route with a bad proxy", "[upload]\ncollectors = [{url = \"https://c.example\", proxy = \"socks4://127.0.0.1:9050\"}]\n", "upload.collectors", 2, "socks5h://"},
		{"fronted plain http", "[upload]\ncollectors = [{url = \"http://c.example\", front = \"cdn.example\"}]\n", "upload.collectors", 2, "https://"},
		{"route with an unknown key", "[upload]\ncollectors = [{url = \"https://c.example\", sni = \"x\"}]\n", "", 0, "unknown key \"sni\""},
		{"route of a wrong type", "[upload]\ncollectors = [1]\n", "", 0, "URL string or a table"},
		{"wrong type", "[run]\nparallelism = \"many\"\n", "run.parallelism", 2, "incompatible types"},
		{"syntax", "[probe\ncountry = 1\n", "", 0, "table name"},
		{"negative parallelism", "[run]\nparallelism = -1\n", "run.parallelism", 2, "outside"},
		{"keep_uploaded_days below -1", "[storage]\nkeep_uploaded_days = -2\n", "storage.keep_uploaded_days", 0, "outside -1..36500"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.text), "bad.toml")
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if ce.File != "bad.toml" {
				t.Errorf("file = %q", ce.File)
			}
			if tc.wantKey != "" && ce.Key != tc.wantKey {
				t.Errorf("key = %q, want %q (%v)", ce.Key, tc.wantKey, err)
			}
			if tc.wantLine != 0 && ce.Line != tc.wantLine {
				t.Errorf("line = %d, want %d (%v)", ce.Line, tc.wantLine, err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("message %q does not contain %q", err.Error(), tc.wantMsg)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.toml")
	cfg, err := Load(missing, false)
	if err != nil || cfg.Network.Resolver != "system" {
		t.Fatalf("implicit missing file: cfg=%+v err=%v", cfg, err)
	}
	if _, err := Load(missing, true); err == nil || !strings.Contains(err.Error(), "none.toml") {
		t.Fatalf("explicit missing file: err = %v", err)
	}
}

func TestLoadUnreadableIsAnError(t *testing.T) {
	dir := t.TempDir()
	// A directory where a file is expected cannot be read on any system.
	if _, err := Load(dir, false); err == nil {
		t.Fatal("reading a directory as config succeeded")
	}
	p := filepath.Join(dir, "c.toml")
	if err := os.WriteFile(p, []byte("[probe]\ncountry=\"KZ\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p, true)
	if err != nil || cfg.Path != p || cfg.Probe.Country != "KZ" {
		t.Fatalf("cfg=%+v err=%v", cfg, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("[probe]\ncountry = \"KZ\"\n"))
	f.Add([]byte("[network]\nresolver = \"udp://127.0.0.1:53\"\n[control]\nhelpers=[\"http://a\"]"))
	f.Add([]byte("[[probe]]\n"))
	f.Add([]byte("x = \"\\u0000\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz.toml")
		if err == nil {
			if cfg == nil {
				t.Fatal("nil config without error")
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Parse accepted a config Validate rejects: %v", err)
			}
			return
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("error of type %T: %v", err, err)
		}
	})
}

// TestEveryListFormAccepted: each form the contract allows for helpers, resolver
// and second_resolver parses and validates.
func TestEveryListFormAccepted(t *testing.T) {
	for _, tc := range []struct{ name, text string }{
		{"http helper", "[control]\nhelpers = [\"http://198.51.100.80:8080\"]\n"},
		{"https helper", "[control]\nhelpers = [\"https://th.example.org/\"]\n"},
		{"both helpers", "[control]\nhelpers = [\"https://th.example.org/\", \"http://198.51.100.80:8080/\"]\n"},
		{"system resolver", "[network]\nresolver = \"system\"\n"},
		{"udp resolver", "[network]\nresolver = \"udp://198.51.100.53:53\"\n"},
		{"udp resolver ipv6", "[network]\nresolver = \"udp://[2001:db8::53]:53\"\n"},
		{"tcp resolver", "[network]\nresolver = \"tcp://198.51.100.53:53\"\n"},
		{"dot resolver", "[network]\nresolver = \"tls://198.51.100.53:853\"\n"},
		{"doh resolver", "[network]\nresolver = \"https://dns.example.org/dns-query\"\n"},
		{"udp second resolver", "[network]\nsecond_resolver = \"udp://198.51.100.54:53\"\n"},
		{"doh second resolver", "[network]\nsecond_resolver = \"https://dns.example.org/dns-query\"\n"},
		{"no second resolver", "[network]\nsecond_resolver = \"\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.text), "forms.toml"); err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}
}

func TestLimitsSharedWithTheCollector(t *testing.T) {
	c := Defaults()
	c.Probe.NetworkName = strings.Repeat("n", limits.MaxNetworkNameBytes)
	if err := c.Validate(); err != nil {
		t.Fatalf("a network_name at the bound is refused: %v", err)
	}
	c.Probe.NetworkName = strings.Repeat("n", 50<<20)
	err := c.Validate()
	var ce *Error
	if !errors.As(err, &ce) || ce.Key != "probe.network_name" ||
		!strings.Contains(err.Error(), "longer than the limit of 256 shared with the collector") || len(err.Error()) > 300 {
		t.Fatalf("50 MB network_name: %.300v", err)
	}
	c = Defaults()
	c.Probe.Country = strings.Repeat("K", 1<<20)
	if err := c.Validate(); err == nil || len(err.Error()) > 200 || !strings.Contains(err.Error(), "(1048576 bytes)") {
		t.Fatalf("1 MB country: the error must quote a short prefix: %.300v", err)
	}
	c = Defaults()
	c.Probe.ASN = "AS" + strings.Repeat("1", 11)
	if err := c.Validate(); err == nil {
		t.Fatal("an ASN of 11 digits (the collector refuses more than 10) is accepted")
	}
	c.Probe.ASN = "AS" + strings.Repeat("1", 10)
	if err := c.Validate(); err != nil {
		t.Fatalf("an ASN of 10 digits is refused: %v", err)
	}
}

func TestCheckDataDir(t *testing.T) {
	dir := t.TempDir()
	if err := CheckDataDir(filepath.Join(dir, "new", "data")); err != nil {
		t.Fatalf("a creatable directory is refused: %v", err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{file, filepath.Join(file, "below"), "/proc/vantage-not-here"} {
		err := CheckDataDir(bad)
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != "storage.dir" {
			t.Errorf("CheckDataDir(%s) = %v, want an error naming storage.dir", bad, err)
		}
	}
}

func TestUploadRoutes(t *testing.T) {
	text := `[upload]
enabled = true
collector = "https://c.example"
collectors = [
  "https://c2.example",
  {url = "https://c.example", front = "cdn.example"},
  {url = "http://c.onion", proxy = "socks5h://127.0.0.1:9050"},
]
`
	cfg, err := Parse([]byte(text), "routes.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := []Route{
		{URL: "https://c.example"},
		{URL: "https://c2.example"},
		{URL: "https://c.example", Front: "cdn.example"},
		{URL: "http://c.onion", Proxy: "socks5h://127.0.0.1:9050"},
	}
	if got := cfg.Upload.Routes(); !reflect.DeepEqual(got, want) {
		t.Errorf("routes = %+v\nwant %+v", got, want)
	}
	// collector alone is a one-route list.
	cfg, err = Parse([]byte("[upload]\nenabled = true\ncollector = \"https://c.example\"\n"), "one.toml")
	if err != nil || !reflect.DeepEqual(cfg.Upload.Routes(), []Route{{URL: "https://c.example"}}) {
		t.Errorf("collector alone: %+v, %v", cfg, err)
	}
	// collectors alone is enough to enable upload.
	if _, err := Parse([]byte("[upload]\nenabled = true\ncollectors = [\"https://c.example\"]\n"), "two.toml"); err != nil {
		t.Errorf("collectors alone: %v", err)
	}
}
