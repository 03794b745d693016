package webconnectivity

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
	"github.com/vantage-probe/vantage/probe/netx"
)

// Each case below pins one clause of the per-URL rules on its own: the other
// clauses that could explain the same outcome are switched off, so that changing
// that one clause changes the verdict (docs/methodology.md; issue 22).

const (
	pinSiteIP  = "93.184.216.34" // the control's answer
	pinSameASN = "93.184.216.99" // another address, announced by the control answer's ASN
	pinOtherIP = "198.51.101.7"  // public, in another ASN
	pinASN     = 15133
)

// plainHTTPObs is an http:// URL on port 80 with no TLS anywhere, answered by one
// address; the control resolved pinSiteIP and fetched the same page.
func plainHTTPObs(addr string, info map[string]thproto.IPInfo) *Observations {
	u, _ := url.Parse("http://plain.example.org/")
	return &Observations{
		URL: u, Port: "80",
		DNS:       DNSObservation{Resolver: "system", Attempts: Attempts{""}, Addrs: []string{addr}},
		Endpoints: []EndpointObservation{{Address: addr + ":80", TCP: Attempts{""}}},
		HTTP: &HTTPObservation{Attempts: Attempts{""}, FinalURL: "http://plain.example.org/", StatusCode: 200,
			Header: http.Header{"X-Site": {"1"}}, BodyLength: 2000, Title: "Plain Example Homepage"},
		Control: &thproto.Response{
			TCPConnect: map[string]thproto.TCPResult{pinSiteIP + ":80": {Status: true}},
			HTTPRequest: thproto.HTTPResult{StatusCode: 200, BodyLength: 2000, Title: "Plain Example Homepage",
				Headers: map[string]string{"X-Site": "1"}},
			DNS:    thproto.DNSResult{Addrs: []string{pinSiteIP}},
			IPInfo: info,
		},
	}
}

func checkDecision(t *testing.T, got Decision, verdict, method, consistency string) {
	t.Helper()
	if got.Verdict != verdict || got.Method != method || got.DNSConsistency != consistency {
		t.Fatalf("got verdict %q method %q dns_consistency %q (evidence %+v); want %q %q %q",
			got.Verdict, got.Method, got.DNSConsistency, got.Evidence, verdict, method, consistency)
	}
}

// TestDNSConsistencyClauses pins each way an answer outside the control's set can be
// explained (OONI v0.5: same address, same ASN, a validating handshake, the helper's
// valid-for-domain flag) with the others absent: plain HTTP on port 80, no TLS.
func TestDNSConsistencyClauses(t *testing.T) {
	ctlInfo := thproto.IPInfo{ASN: pinASN, Flags: thproto.FlagResolvedByTH}
	cases := []struct {
		name        string
		obs         *Observations
		verdict     string
		method      string
		consistency string
	}{
		{"the control's own address",
			plainHTTPObs(pinSiteIP, map[string]thproto.IPInfo{pinSiteIP: ctlInfo}),
			nettests.VerdictOK, "", "consistent"},
		{"another address in the control's ASN, explained by the ASN alone",
			plainHTTPObs(pinSameASN, map[string]thproto.IPInfo{pinSiteIP: ctlInfo, pinSameASN: {ASN: pinASN, Flags: thproto.FlagResolvedByProbe}}),
			nettests.VerdictOK, "", "consistent"},
		{"an address in another ASN is inconsistent",
			plainHTTPObs(pinOtherIP, map[string]thproto.IPInfo{pinSiteIP: ctlInfo, pinOtherIP: {ASN: 64500, Flags: thproto.FlagResolvedByProbe}}),
			nettests.VerdictBlocked, nettests.MethodDNSInconsistent, "inconsistent"},
		{"an address the helper knows no ASN of is inconsistent",
			plainHTTPObs(pinOtherIP, map[string]thproto.IPInfo{pinSiteIP: ctlInfo}),
			nettests.VerdictBlocked, nettests.MethodDNSInconsistent, "inconsistent"},
		{"ASN 0 (unknown) on both sides explains nothing",
			plainHTTPObs(pinOtherIP, map[string]thproto.IPInfo{pinSiteIP: {ASN: 0}, pinOtherIP: {ASN: 0}}),
			nettests.VerdictBlocked, nettests.MethodDNSInconsistent, "inconsistent"},
		{"the control's ASN 0 does not make an ASN-0 answer consistent, even with a known control ASN beside it",
			func() *Observations {
				o := plainHTTPObs(pinOtherIP, map[string]thproto.IPInfo{pinSiteIP: ctlInfo, "93.184.216.1": {ASN: 0}, pinOtherIP: {ASN: 0}})
				o.Control.DNS.Addrs = []string{pinSiteIP, "93.184.216.1"}
				return o
			}(),
			nettests.VerdictBlocked, nettests.MethodDNSInconsistent, "inconsistent"},
		{"the helper's valid-for-domain flag explains an address in another ASN",
			plainHTTPObs(pinOtherIP, map[string]thproto.IPInfo{pinSiteIP: ctlInfo, pinOtherIP: {ASN: 64500, Flags: thproto.FlagResolvedByProbe | thproto.FlagValidForDomain}}),
			nettests.VerdictOK, "", "consistent"},
		{"other flags do not",
			plainHTTPObs(pinOtherIP, map[string]thproto.IPInfo{pinSiteIP: ctlInfo, pinOtherIP: {ASN: 64500, Flags: thproto.FlagResolvedByProbe | thproto.FlagResolvedByTH}}),
			nettests.VerdictBlocked, nettests.MethodDNSInconsistent, "inconsistent"},
		{"a validating handshake on 443 explains an address in another ASN",
			func() *Observations {
				o := plainHTTPObs(pinOtherIP, map[string]thproto.IPInfo{pinSiteIP: ctlInfo, pinOtherIP: {ASN: 64500}})
				o.Endpoints = append(o.Endpoints, EndpointObservation{Address: pinOtherIP + ":443", TCP: Attempts{""},
					TLS: &TLSObservation{SNI: "plain.example.org", Attempts: Attempts{""}, Completed: true}})
				return o
			}(),
			nettests.VerdictOK, "", "consistent"},
		{"a handshake that completed without validating does not",
			func() *Observations {
				o := plainHTTPObs(pinOtherIP, map[string]thproto.IPInfo{pinSiteIP: ctlInfo, pinOtherIP: {ASN: 64500}})
				o.Endpoints = append(o.Endpoints, EndpointObservation{Address: pinOtherIP + ":443", TCP: Attempts{""},
					TLS: &TLSObservation{SNI: "plain.example.org", Attempts: Attempts{netx.FailureSSLUnknownAuthority}, Completed: true}})
				return o
			}(),
			nettests.VerdictBlocked, nettests.MethodDNSInconsistent, "inconsistent"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkDecision(t, Decide(c.obs, nil), c.verdict, c.method, c.consistency)
		})
	}
}

// TestDNSConsistencyNamesOnlyTheUnexplained: with one explained and one unexplained
// answer the URL is inconsistent and the evidence lists the unexplained one only.
func TestDNSConsistencyNamesOnlyTheUnexplained(t *testing.T) {
	o := plainHTTPObs(pinSameASN, map[string]thproto.IPInfo{pinSiteIP: {ASN: pinASN}, pinSameASN: {ASN: pinASN}, pinOtherIP: {ASN: 64500}})
	o.DNS.Addrs = []string{pinSameASN, pinOtherIP}
	got := Decide(o, nil)
	checkDecision(t, got, nettests.VerdictBlocked, nettests.MethodDNSInconsistent, "inconsistent")
	if !slices.Equal(got.Evidence.Addresses, []string{pinOtherIP}) || !slices.Equal(got.Evidence.ControlAddresses, []string{pinSiteIP}) {
		t.Fatalf("evidence addresses %v control %v, want [%s] [%s]", got.Evidence.Addresses, got.Evidence.ControlAddresses, pinOtherIP, pinSiteIP)
	}
}

// TestDNSConsistencyNeedsControlAddresses: a control that resolved nothing (or
// failed) cannot call an answer inconsistent.
func TestDNSConsistencyNeedsControlAddresses(t *testing.T) {
	o := plainHTTPObs(pinOtherIP, nil)
	o.Control.DNS = thproto.DNSResult{}
	checkDecision(t, Decide(o, nil), nettests.VerdictOK, "", "")

	o = plainHTTPObs(pinOtherIP, nil)
	o.Control.DNS = thproto.DNSResult{Failure: strp(thproto.FailureDNSNameError), Addrs: []string{pinSiteIP}}
	checkDecision(t, Decide(o, nil), nettests.VerdictOK, "", "")
}

// TestOrdinaryStatusPagesAreNotBlockpages: a plain-HTTP 5xx or 3xx page that the
// control got too is the site's own; only 451 matches the RFC 7725 fingerprint, and
// only its exact status (not a neighbour, not every status above it).
func TestOrdinaryStatusPagesAreNotBlockpages(t *testing.T) {
	fp := DefaultFingerprints()
	for _, status := range []int{200, 204, 301, 302, 303, 304, 307, 308, 400, 403, 404, 450, 452, 499, 500, 502, 503, 504, 599} {
		body := []byte("<html><head><title>Service status</title></head><body>The server said so.</body></html>")
		if m := fp.MatchBlockpage(status, http.Header{"Server": {"nginx"}}, body); m != nil {
			t.Errorf("status %d matched fingerprint %q", status, m.Name)
		}
		o := plainHTTPObs(pinSiteIP, map[string]thproto.IPInfo{pinSiteIP: {ASN: pinASN}})
		o.HTTP.StatusCode, o.HTTP.Body = status, body
		o.Control.HTTPRequest.StatusCode = int64(status)
		if got := Decide(o, nil); got.Verdict != nettests.VerdictOK {
			t.Errorf("status %d, the control got it too: verdict %q method %q, want ok", status, got.Verdict, got.Method)
		}
	}
	m := fp.MatchBlockpage(451, nil, nil)
	if m == nil || m.Name != "rfc7725_451" {
		t.Fatalf("451 matched %+v, want rfc7725_451", m)
	}
	o := plainHTTPObs(pinSiteIP, map[string]thproto.IPInfo{pinSiteIP: {ASN: pinASN}})
	o.HTTP.StatusCode = 451
	o.Control.HTTPRequest.StatusCode = 451 // even when the control got one: a plaintext 451 is the censor's
	got := Decide(o, nil)
	if got.Verdict != nettests.VerdictBlocked || got.Method != nettests.MethodHTTPBlockpage || got.Evidence.Fingerprint == nil || got.Evidence.Fingerprint.Name != "rfc7725_451" {
		t.Fatalf("plain-HTTP 451: %+v, want blocked http.blockpage rfc7725_451", got)
	}
}

// TestBlockpageMatcherKinds pins each matcher kind on a hand-made set, each on both
// sides: status, body substring, body regexp, header substring, header regexp.
func TestBlockpageMatcherKinds(t *testing.T) {
	fp, err := LoadFingerprints([]byte(`{"blockpages":[
		{"name":"st","country":"ZZ","source":"s","match":{"status":418}},
		{"name":"bc","country":"ZZ","source":"s","match":{"body_contains":"blocked by order"}},
		{"name":"br","country":"ZZ","source":"s","match":{"body_regex":"ref=[0-9]{4}\\b"}},
		{"name":"hc","country":"ZZ","source":"s","match":{"header":"X-Filter","header_contains":"deny"}},
		{"name":"hr","country":"ZZ","source":"s","match":{"header":"Location","header_regex":"^https?://warning\\.example/"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		status int
		header http.Header
		body   string
		want   string
	}{
		{418, nil, "", "st"},
		{417, nil, "", ""},
		{200, nil, "this page was blocked by order of the court", "bc"},
		{200, nil, "this page was blocked by the court", ""},
		{200, nil, "see ref=1234 for details", "br"},
		{200, nil, "see ref=123 for details", ""},
		{200, http.Header{"X-Filter": {"allow", "deny; category=news"}}, "", "hc"},
		{200, http.Header{"X-Filter": {"allow"}}, "", ""},
		{200, http.Header{"X-Other": {"deny"}}, "", ""},
		{302, http.Header{"Location": {"http://warning.example/?u=x"}}, "", "hr"},
		{302, http.Header{"Location": {"http://example.org/?r=http://warning.example/"}}, "", ""},
	}
	for _, c := range cases {
		m := fp.MatchBlockpage(c.status, c.header, []byte(c.body))
		got := ""
		if m != nil {
			got = m.Name
		}
		if got != c.want {
			t.Errorf("status %d header %v body %q: matched %q, want %q", c.status, c.header, c.body, got, c.want)
		}
	}
}

// TestLoadFingerprintsRefuses pins each check of the loader.
func TestLoadFingerprintsRefuses(t *testing.T) {
	bad := map[string]string{
		"no name":          `{"blockpages":[{"country":"ZZ","source":"s","match":{"status":451}}]}`,
		"country":          `{"blockpages":[{"name":"a","country":"ZZZ","source":"s","match":{"status":451}}]}`,
		"short country":    `{"blockpages":[{"name":"a","country":"Z","source":"s","match":{"status":451}}]}`,
		"no source":        `{"blockpages":[{"name":"a","country":"ZZ","match":{"status":451}}]}`,
		"no matcher":       `{"blockpages":[{"name":"a","country":"ZZ","source":"s","match":{}}]}`,
		"two matchers":     `{"blockpages":[{"name":"a","country":"ZZ","source":"s","match":{"status":451,"body_contains":"x"}}]}`,
		"header alone":     `{"blockpages":[{"name":"a","country":"ZZ","source":"s","match":{"header":"X"}}]}`,
		"header both":      `{"blockpages":[{"name":"a","country":"ZZ","source":"s","match":{"header":"X","header_contains":"a","header_regex":"b"}}]}`,
		"bad body regex":   `{"blockpages":[{"name":"a","country":"ZZ","source":"s","match":{"body_regex":"("}}]}`,
		"bad header regex": `{"blockpages":[{"name":"a","country":"ZZ","source":"s","match":{"header":"X","header_regex":"("}}]}`,
		"interceptor none": `{"interceptors":[{"name":"a","country":"ZZ","source":"s","match":{}}]}`,
		"interceptor both": `{"interceptors":[{"name":"a","country":"ZZ","source":"s","match":{"name_contains":"a","common_name":"b"}}]}`,
		"interceptor name": `{"interceptors":[{"country":"ZZ","source":"s","match":{"common_name":"b"}}]}`,
		"not json":         `{"blockpages":[`,
	}
	for name, data := range bad {
		if _, err := LoadFingerprints([]byte(data)); err == nil {
			t.Errorf("%s: loaded, want an error", name)
		}
	}
	good := `{"blockpages":[{"name":"a","country":"ZZ","source":"s","match":{"header":"X","header_regex":"b"}}],
		"interceptors":[{"name":"i","country":"KZ","source":"s","match":{"common_name":"b"}}]}`
	if _, err := LoadFingerprints([]byte(good)); err != nil {
		t.Errorf("good file refused: %v", err)
	}
}
