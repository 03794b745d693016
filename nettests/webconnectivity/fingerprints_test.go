package webconnectivity

import (
	"net/http"
	"strings"
	"testing"
)

func TestEmbeddedFingerprintsLoad(t *testing.T) {
	fp, err := LoadFingerprints(fingerprintsJSON)
	if err != nil {
		t.Fatalf("embedded fingerprints: %v", err)
	}
	if len(fp.Blockpages) == 0 || len(fp.Interceptors) == 0 {
		t.Fatalf("embedded fingerprints are empty: %+v", fp)
	}
	for _, b := range fp.Blockpages {
		if !strings.Contains(b.Source, "http") {
			t.Errorf("blockpage %s: source %q is not a URL", b.Name, b.Source)
		}
	}
	for _, i := range fp.Interceptors {
		if !strings.Contains(i.Source, "http") {
			t.Errorf("interceptor %s: source %q is not a URL", i.Name, i.Source)
		}
	}
}

func TestLoadFingerprintsRejects(t *testing.T) {
	for name, data := range map[string]string{
		"no source":      `{"blockpages":[{"name":"a","country":"KZ","match":{"status":451}}]}`,
		"two matchers":   `{"blockpages":[{"name":"a","country":"KZ","source":"s","match":{"status":451,"body_contains":"x"}}]}`,
		"no matcher":     `{"blockpages":[{"name":"a","country":"KZ","source":"s","match":{}}]}`,
		"bad regex":      `{"blockpages":[{"name":"a","country":"KZ","source":"s","match":{"body_regex":"("}}]}`,
		"bad country":    `{"blockpages":[{"name":"a","country":"Kazakhstan","source":"s","match":{"status":451}}]}`,
		"header no test": `{"blockpages":[{"name":"a","country":"KZ","source":"s","match":{"header":"Location"}}]}`,
		"interceptor":    `{"interceptors":[{"name":"a","country":"KZ","source":"s","match":{}}]}`,
	} {
		if _, err := LoadFingerprints([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMatchBlockpage(t *testing.T) {
	fp := DefaultFingerprints()
	cases := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   string
	}{
		{"451", 451, nil, "", "rfc7725_451"},
		{"kz text", 200, nil, "<p>Страница заблокирована</p>", "kz_strannica_zablokirovana"},
		{"iran iframe", 200, nil, `<html><iframe src="http://10.10.34.34?type=Invalid Site" style="width: 100%">`, "ir_peyvandha_iframe"},
		{"indonesia redirect", 302, http.Header{"Location": {"http://internetpositif.id/"}}, "", "id_internetpositif_redirect"},
		{"rkn", 200, nil, `see <a href="https://eais.rkn.gov.ru/">registry</a>`, "ru_rkn_registry_reference"},
		{"ordinary page", 200, http.Header{"Location": {"https://www.internetpositif.example/"}}, "<title>Hello</title>", ""},
		{"ordinary 403", 403, nil, "Forbidden", ""},
	}
	for _, c := range cases {
		m := fp.MatchBlockpage(c.status, c.header, []byte(c.body))
		got := ""
		if m != nil {
			got = m.Name
		}
		if got != c.want {
			t.Errorf("%s: matched %q, want %q", c.name, got, c.want)
		}
	}
}

func TestMatchInterceptor(t *testing.T) {
	fp := DefaultFingerprints()
	cases := map[string]string{
		"Qaznet Trust Network":             "kz_qaznet_trust_network_2019",
		"Security Certificate":             "kz_security_certificate_2024",
		"Fortiguard SDNS Blocked Page":     "fortiguard_sdns_blocked_page",
		"My Security Certificate Services": "", // exact common name only
		"Let's Encrypt R3":                 "",
	}
	for cn, want := range cases {
		m, issuer := fp.MatchInterceptor(selfSignedChain(t, cn))
		got := ""
		if m != nil {
			got = m.Name
			if !strings.Contains(issuer, cn) {
				t.Errorf("%s: issuer %q does not name the certificate", cn, issuer)
			}
		}
		if got != want {
			t.Errorf("%s: matched %q, want %q", cn, got, want)
		}
	}
	if m, _ := fp.MatchInterceptor([][]byte{[]byte("not a certificate")}); m != nil {
		t.Errorf("garbage chain matched %v", m)
	}
}
