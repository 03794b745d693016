package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSetConsentLine(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"empty file", "", "[probe]\ninformed_consent = true\n"},
		{"flip false", "[probe]\ncountry = \"KZ\"\ninformed_consent = false\n[run]\nretries = 2\n",
			"[probe]\ncountry = \"KZ\"\ninformed_consent = true\n[run]\nretries = 2\n"},
		{"add to probe", "# c\n[probe] # me\ncountry = \"KZ\"\n\n[run]\nretries = 2\n",
			"# c\n[probe] # me\ninformed_consent = true\ncountry = \"KZ\"\n\n[run]\nretries = 2\n"},
		{"no probe table", "# top\n[run]\nretries = 2\n", "# top\n[probe]\ninformed_consent = true\n\n[run]\nretries = 2\n"},
		{"same key in another table is not ours", "[run]\n# informed_consent = false\n", "[probe]\ninformed_consent = true\n\n[run]\n# informed_consent = false\n"},
		{"no trailing newline", "# only a comment", "# only a comment\n[probe]\ninformed_consent = true\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := setConsentLine(c.in)
			if got != c.want {
				t.Fatalf("got\n%q\nwant\n%q", got, c.want)
			}
			cfg, err := Parse([]byte(got), "t")
			if err != nil || !cfg.Probe.InformedConsent {
				t.Fatalf("result does not parse with consent: %v", err)
			}
		})
	}
}

func TestRecordConsentKeepsModeAndRefusesBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.toml")
	os.WriteFile(p, []byte("[probe]\ncountry = \"KZ\"\n"), 0o640)
	if err := RecordConsent(p); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", st.Mode().Perm())
	}
	broken := filepath.Join(dir, "broken.toml")
	os.WriteFile(broken, []byte("[probe\n"), 0o600)
	if err := RecordConsent(broken); err == nil {
		t.Error("a file that does not parse must not be rewritten")
	}
	if b, _ := os.ReadFile(broken); string(b) != "[probe\n" {
		t.Errorf("broken file changed: %q", b)
	}
	fresh := filepath.Join(dir, "new", "config.toml")
	if err := RecordConsent(fresh); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(fresh); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("new file: %v %v", st, err)
	}
}
