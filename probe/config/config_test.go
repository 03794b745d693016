package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
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
