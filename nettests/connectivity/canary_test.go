package connectivity

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseCanary(t *testing.T) {
	tests := []struct {
		entry                    string
		host, address, port, sni string
		path                     string
		literal                  bool
	}{
		{"https://kolesa.kz/", "kolesa.kz", "", "443", "kolesa.kz", "/", false},
		{"https://Canary.Test:8443/page?x=1", "canary.test", "", "8443", "canary.test", "/page", false},
		{"https://127.0.0.1:8443/", "", "127.0.0.1:8443", "8443", "", "/", true},
		{"https://[::1]:8443/", "", "[::1]:8443", "8443", "", "/", true},
		{"www.ripe.net", "www.ripe.net", "", "443", "www.ripe.net", "/", false},
		{"10.0.0.1:8443", "", "10.0.0.1:8443", "8443", "", "/", true},
		{"[2001:db8::1]:443", "", "[2001:db8::1]:443", "443", "", "/", true},
		{"192.0.2.7", "", "192.0.2.7:443", "443", "", "/", true},
		{"  https://kolesa.kz  ", "kolesa.kz", "", "443", "kolesa.kz", "/", false},
	}
	httpTests := []struct {
		entry, host, address, port, url string
		literal                         bool
	}{
		{"http://kolesa.kz/", "kolesa.kz", "", "80", "http://kolesa.kz/", false},
		{"HTTP://Canary.Test:8080/p", "canary.test", "", "8080", "http://canary.test:8080/p", false},
		{"http://192.0.2.7/", "", "192.0.2.7:80", "80", "http://192.0.2.7/", true},
		{"http://[2001:db8::1]:8080/", "", "[2001:db8::1]:8080", "8080", "http://[2001:db8::1]:8080/", true},
	}
	for _, tt := range httpTests {
		c, err := ParseCanary(tt.entry, ClassDomestic)
		if err != nil {
			t.Errorf("%q: %v", tt.entry, err)
			continue
		}
		if !c.IsHTTP() || c.Host != tt.host || c.Address != tt.address || c.Port != tt.port || c.SNI != "" || c.HTTPURL() != tt.url || c.IsLiteral() != tt.literal {
			t.Errorf("%q: got %+v (url %s)", tt.entry, c, c.HTTPURL())
		}
		want := []string{ProtoTCP, ProtoHTTP}
		if !tt.literal {
			want = append([]string{ProtoDNS}, want...)
		}
		if got := c.Protocols(); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%q: protocols %v, want %v (no TLS, no QUIC)", tt.entry, got, want)
		}
	}
	for _, tt := range tests {
		c, err := ParseCanary(tt.entry, ClassForeign)
		if err != nil {
			t.Errorf("%q: %v", tt.entry, err)
			continue
		}
		if c.Host != tt.host || c.Address != tt.address || c.Port != tt.port || c.SNI != tt.sni || c.Path != tt.path || c.IsLiteral() != tt.literal {
			t.Errorf("%q: got %+v", tt.entry, c)
		}
		wantProtos := 4
		if tt.literal {
			wantProtos = 3
		}
		if len(c.Protocols()) != wantProtos {
			t.Errorf("%q: protocols %v", tt.entry, c.Protocols())
		}
	}
}

func TestParseCanaryRejects(t *testing.T) {
	for _, entry := range []string{"", "ftp://x.kz", "quic://kolesa.kz/", "https:///path", "localhost", "kolesa kz", "-bad.kz", "a..kz", "https://bad_host.kz/", "10.0.0.1:99999"} {
		if c, err := ParseCanary(entry, ClassDomestic); !errors.Is(err, ErrBadCanary) {
			t.Errorf("%q accepted: %+v (%v)", entry, c, err)
		}
	}
}

// TestDefaultCanariesDocumented: every embedded entry says what it is, why it is
// safe, and where its facts come from, and parses; each country set has IP
// literals in its foreign class.
func TestDefaultCanariesDocumented(t *testing.T) {
	data, err := defaultsFS.ReadFile("data/canaries.json")
	if err != nil {
		t.Fatal(err)
	}
	var f defaultsFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	for _, sets := range []map[string][]defaultEntry{f.Domestic, f.Allowlisted, f.Foreign} {
		for cc, entries := range sets {
			for _, e := range entries {
				if e.What == "" || e.Why == "" || e.Source == "" {
					t.Errorf("%s %s: undocumented", cc, e.Target)
				}
				if _, err := expandEntry(e, ClassForeign); err != nil {
					t.Errorf("%s %s: %v", cc, e.Target, err)
				}
			}
		}
	}
	kz, err := DefaultCanaries("KZ")
	if err != nil {
		t.Fatal(err)
	}
	literals := 0
	for _, c := range kz {
		if c.Class == ClassForeign && c.IsLiteral() {
			literals++
			if c.SNI == "" {
				t.Errorf("embedded literal %s has no SNI: its certificate would not match", c.Name)
			}
		}
	}
	if !hasClass(kz, ClassDomestic) || literals < 2 {
		t.Errorf("KZ defaults: domestic %v, %d foreign literals", hasClass(kz, ClassDomestic), literals)
	}
	zz, err := DefaultCanaries("ZZ")
	if err != nil || hasClass(zz, ClassDomestic) || len(zz) == 0 {
		t.Errorf("unknown country: %d canaries, err %v", len(zz), err)
	}
}

// TestDefaultCanariesAvoidRiskyKinds is a tripwire on the rules of the data file:
// no public resolvers, big CDNs or telecoms anywhere, and no government portals or
// banks among the ordinary domestic and foreign canaries (they belong to the
// allowlisted class only).
func TestDefaultCanariesAvoidRiskyKinds(t *testing.T) {
	risky := []string{"1.1.1.1", "8.8.8.8", "9.9.9.9", "cloudflare", "akamai", "google", "telecom", "beeline", "kcell"}
	allowlistedOnly := []string{"gov", "egov", "kaspi", "bank"}
	for _, cc := range []string{"KZ", "ZZ"} {
		cs, err := DefaultCanaries(cc)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			words := risky
			if c.Class != ClassAllowlisted {
				words = append(append([]string{}, risky...), allowlistedOnly...)
			}
			for _, r := range words {
				if strings.Contains(strings.ToLower(c.Name), r) {
					t.Errorf("%s %s canary %s matches %q", cc, c.Class, c.Name, r)
				}
			}
		}
	}
}

// TestDefaultAllowlistedCanaries: Kazakhstan has an allowlisted set of its own,
// apart from the ordinary domestic one (no entry in both), and every entry not
// checked against a live network says so.
func TestDefaultAllowlistedCanaries(t *testing.T) {
	kz, err := DefaultCanaries("KZ")
	if err != nil {
		t.Fatal(err)
	}
	classOf := map[string][]string{}
	allowlisted := 0
	for _, c := range kz {
		classOf[c.Name] = append(classOf[c.Name], c.Class)
		if c.Class == ClassAllowlisted {
			allowlisted++
		}
	}
	if allowlisted < 2 {
		t.Fatalf("KZ: %d allowlisted canaries, want at least 2 (one bank's absence must not decide)", allowlisted)
	}
	for name, classes := range classOf {
		if len(classes) > 1 {
			t.Errorf("%s listed in %v", name, classes)
		}
	}
	data, err := defaultsFS.ReadFile("data/canaries.json")
	if err != nil {
		t.Fatal(err)
	}
	var f defaultsFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	for cc, entries := range f.Allowlisted {
		for _, e := range entries {
			// "verified" or "unverified": either way the entry says it.
			if !strings.Contains(e.Source, "verified") {
				t.Errorf("%s %s: the source must say whether the entry was checked", cc, e.Target)
			}
		}
	}
}

func FuzzParseCanary(f *testing.F) {
	for _, s := range []string{"https://kolesa.kz/", "10.0.0.1:443", "[::1]:1", "www.ripe.net", "https://[::1]:8443/x", "%", "https://a.b:0/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		c, err := ParseCanary(entry, ClassForeign)
		if err != nil {
			return
		}
		// An accepted entry is measurable: either a name to resolve or an address.
		if (c.Host == "") == (c.Address == "") || c.Port == "" {
			t.Fatalf("%q parsed into %+v", entry, c)
		}
	})
}

func TestParseCanarySets(t *testing.T) {
	cs, err := ParseCanarySets([]string{"https://shop.kz/"}, []string{"https://bank.kz/", "10.1.0.20:443", "https://shop.kz/"}, []string{"10.2.0.1:443"})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ name, class string }{{"https://shop.kz/", ClassDomestic}, {"https://bank.kz/", ClassAllowlisted}, {"10.1.0.20:443", ClassAllowlisted}, {"10.2.0.1:443", ClassForeign}}
	if len(cs) != len(want) {
		t.Fatalf("canaries %+v", cs)
	}
	for i, w := range want {
		if cs[i].Name != w.name || cs[i].Class != w.class {
			t.Errorf("canary %d: %s (%s), want %s (%s)", i, cs[i].Name, cs[i].Class, w.name, w.class)
		}
	}
	if _, err := ParseCanarySets(nil, []string{"ftp://bank.kz"}, nil); !errors.Is(err, ErrBadCanary) {
		t.Errorf("bad allowlisted entry: %v", err)
	}
}

func TestParseCanariesDedupes(t *testing.T) {
	cs, err := ParseCanaries([]string{"10.0.0.1:443", " 10.0.0.1:443"}, []string{"https://a.example/", "10.0.0.1:443"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Class != ClassDomestic || cs[1].Host != "a.example" {
		t.Fatalf("canaries %+v", cs)
	}
}
