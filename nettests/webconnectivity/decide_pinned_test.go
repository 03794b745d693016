package webconnectivity

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
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

// dnsFailedObs: every lookup failed with failure; nothing was connected or fetched.
func dnsFailedObs(failure string) *Observations {
	o := plainHTTPObs(pinSiteIP, map[string]thproto.IPInfo{pinSiteIP: {ASN: pinASN}})
	o.DNS = DNSObservation{Resolver: "system", Attempts: Attempts{failure, failure, failure}}
	o.Endpoints, o.HTTP = nil, nil
	return o
}

// TestDNSFailureEvidence pins the clauses of a failed lookup: a lookup that
// answered without addresses, the second resolver's answer, the control's failure.
func TestDNSFailureEvidence(t *testing.T) {
	t.Run("a lookup that succeeded without addresses is no answer", func(t *testing.T) {
		o := dnsFailedObs("")
		got := Decide(o, nil)
		checkDecision(t, got, nettests.VerdictBlocked, nettests.MethodDNSNXDOMAIN, "inconsistent")
		if got.Evidence.Failure != netx.FailureDNSNoAnswer || got.Evidence.Attempts != 3 || got.Evidence.Failures != 0 {
			t.Fatalf("evidence %+v, want failure dns_no_answer, 3 attempts, 0 failures", got.Evidence)
		}
	})
	t.Run("counts of attempts and failures", func(t *testing.T) {
		o := dnsFailedObs(netx.FailureGenericTimeout)
		o.DNS.Attempts = Attempts{netx.FailureGenericTimeout, netx.FailureDNSServfail}
		got := Decide(o, nil)
		checkDecision(t, got, nettests.VerdictBlocked, nettests.MethodDNSFailure, "inconsistent")
		if got.Evidence.Attempts != 2 || got.Evidence.Failures != 2 || got.Evidence.Failure != netx.FailureDNSServfail {
			t.Fatalf("evidence %+v, want 2 attempts, 2 failures, the last failure", got.Evidence)
		}
		o = plainHTTPObs(pinSiteIP, map[string]thproto.IPInfo{pinSiteIP: {ASN: pinASN}})
		o.DNS.Attempts = Attempts{netx.FailureGenericTimeout, netx.FailureGenericTimeout, ""}
		got = Decide(o, nil)
		checkDecision(t, got, nettests.VerdictIntermittent, nettests.MethodDNSTimeout, "consistent")
		if got.Evidence.Attempts != 3 || got.Evidence.Failures != 2 || got.Evidence.Step != "dns" {
			t.Fatalf("flaky evidence %+v, want dns, 3 attempts, 2 failures", got.Evidence)
		}
	})
	t.Run("the second resolver's answer is noted only when it had addresses", func(t *testing.T) {
		for _, c := range []struct {
			second     *DNSObservation
			wantDetail bool
		}{
			{&DNSObservation{Resolver: "udp://9.9.9.9:53", Attempts: Attempts{""}, Addrs: []string{pinSiteIP}}, true},
			{&DNSObservation{Resolver: "udp://9.9.9.9:53", Attempts: Attempts{""}}, false},
			{&DNSObservation{Resolver: "udp://9.9.9.9:53", Attempts: Attempts{netx.FailureGenericTimeout}, Addrs: []string{pinSiteIP}}, false},
			{nil, false},
		} {
			o := dnsFailedObs(netx.FailureDNSNXDOMAIN)
			o.SecondDNS = c.second
			got := Decide(o, nil)
			checkDecision(t, got, nettests.VerdictBlocked, nettests.MethodDNSNXDOMAIN, "inconsistent")
			if has := strings.Contains(got.Evidence.Detail, "second resolver"); has != c.wantDetail {
				t.Errorf("second %+v: detail %q, want a note: %v", c.second, got.Evidence.Detail, c.wantDetail)
			}
		}
	})
	t.Run("the control failing too is down, with its failure", func(t *testing.T) {
		o := dnsFailedObs(netx.FailureDNSNXDOMAIN)
		o.Control.DNS = thproto.DNSResult{Failure: strp(thproto.FailureDNSNameError)}
		got := Decide(o, nil)
		checkDecision(t, got, nettests.VerdictDown, "", "")
		if got.Evidence.ControlFailure != thproto.FailureDNSNameError {
			t.Fatalf("control failure %q, want %q", got.Evidence.ControlFailure, thproto.FailureDNSNameError)
		}
		o = dnsFailedObs(netx.FailureDNSNXDOMAIN)
		o.Control.DNS = thproto.DNSResult{} // answered, no addresses, no failure
		got = Decide(o, nil)
		checkDecision(t, got, nettests.VerdictDown, "", "")
		if got.Evidence.ControlFailure != "" {
			t.Fatalf("control failure %q, want none", got.Evidence.ControlFailure)
		}
	})
	t.Run("no control: inconclusive, with why the control is missing", func(t *testing.T) {
		o := dnsFailedObs(netx.FailureDNSNXDOMAIN)
		o.Control, o.ControlErr = nil, "connection_refused"
		got := Decide(o, nil)
		if got.Verdict != nettests.VerdictInconclusive || got.Reason != nettests.ReasonNoControl || got.Evidence.ControlFailure != "connection_refused" {
			t.Fatalf("%+v, want inconclusive no_control with the control's failure", got)
		}
		o.ControlErr = ""
		if got := Decide(o, nil); got.Evidence.ControlFailure != "" {
			t.Fatalf("control failure %q without a control error", got.Evidence.ControlFailure)
		}
	})
}

// TestLabPrivateKeepsUnspecifiedBogons: in a lab every private answer is normal,
// an unspecified one (0.0.0.0, 0.x) is still a censor's.
func TestLabPrivateKeepsUnspecifiedBogons(t *testing.T) {
	for _, c := range []struct {
		addr   string
		lab    bool
		method string
	}{
		{"10.0.0.99", true, nettests.MethodDNSInconsistent},
		{"10.0.0.99", false, nettests.MethodDNSBogon},
		{"0.0.0.0", true, nettests.MethodDNSBogon},
		{"0.1.2.3", true, nettests.MethodDNSBogon},
		{"127.0.0.1", true, nettests.MethodDNSInconsistent},
		{"127.0.0.1", false, nettests.MethodDNSBogon},
	} {
		o := plainHTTPObs(c.addr, map[string]thproto.IPInfo{pinSiteIP: {ASN: pinASN}})
		o.LabPrivate = c.lab
		if got := Decide(o, nil); got.Verdict != nettests.VerdictBlocked || got.Method != c.method {
			t.Errorf("%s (lab %v): %s %s, want blocked %s", c.addr, c.lab, got.Verdict, got.Method, c.method)
		}
	}
}

// TestNetworkVerdictTempersEachVerdict pins applyNetwork clause by clause.
func TestNetworkVerdictTempersEachVerdict(t *testing.T) {
	yes, no := true, false
	blockedObs := func() *Observations { return dnsFailedObs(netx.FailureDNSNXDOMAIN) }
	okObs := func() *Observations {
		return plainHTTPObs(pinSiteIP, map[string]thproto.IPInfo{pinSiteIP: {ASN: pinASN}})
	}
	downObs := func() *Observations {
		o := dnsFailedObs(netx.FailureDNSNXDOMAIN)
		o.Control.DNS = thproto.DNSResult{Failure: strp(thproto.FailureDNSNameError)}
		return o
	}
	flakyObs := func() *Observations {
		o := okObs()
		o.DNS.Attempts = Attempts{netx.FailureGenericTimeout, ""}
		return o
	}
	cases := []struct {
		name     string
		obs      func() *Observations
		network  string
		canaries *bool
		verdict  string
		reason   string
		upNoted  bool
	}{
		{"full shutdown: blocked is inconclusive", blockedObs, nettests.NetworkFullShutdown, nil, nettests.VerdictInconclusive, nettests.NetworkFullShutdown, false},
		{"full shutdown: down is inconclusive", downObs, nettests.NetworkFullShutdown, nil, nettests.VerdictInconclusive, nettests.NetworkFullShutdown, false},
		{"full shutdown: ok stays ok", okObs, nettests.NetworkFullShutdown, nil, nettests.VerdictOK, "", false},
		{"local failure: blocked is inconclusive", blockedObs, nettests.NetworkLocalFailure, nil, nettests.VerdictInconclusive, nettests.NetworkLocalFailure, false},
		{"partial shutdown, canaries up: blocked stays", blockedObs, nettests.NetworkPartialShutdown, &yes, nettests.VerdictBlocked, "", true},
		{"partial shutdown, canaries down: blocked is inconclusive", blockedObs, nettests.NetworkPartialShutdown, &no, nettests.VerdictInconclusive, ReasonPartialShutdown, true},
		{"partial shutdown, canaries not asked: blocked is inconclusive", blockedObs, nettests.NetworkPartialShutdown, nil, nettests.VerdictInconclusive, ReasonPartialShutdown, false},
		{"partial shutdown, canaries down: intermittent is inconclusive", flakyObs, nettests.NetworkPartialShutdown, &no, nettests.VerdictInconclusive, ReasonPartialShutdown, true},
		{"partial shutdown, canaries up: intermittent stays", flakyObs, nettests.NetworkPartialShutdown, &yes, nettests.VerdictIntermittent, "", true},
		{"partial shutdown: down is left alone", downObs, nettests.NetworkPartialShutdown, &no, nettests.VerdictDown, "", false},
		{"partial shutdown: ok is left alone", okObs, nettests.NetworkPartialShutdown, &no, nettests.VerdictOK, "", false},
		{"online: blocked stays", blockedObs, nettests.NetworkOnline, &no, nettests.VerdictBlocked, "", false},
	}
	for _, c := range cases {
		o := c.obs()
		o.NetworkVerdict, o.Canaries = c.network, c.canaries
		got := Decide(o, nil)
		if got.Verdict != c.verdict || got.Reason != c.reason || (got.Evidence.CanariesUp != nil) != c.upNoted {
			t.Errorf("%s: %s (%s), canaries_up %v; want %s (%s), canaries noted %v", c.name, got.Verdict, got.Reason, got.Evidence.CanariesUp, c.verdict, c.reason, c.upNoted)
		}
		if got.Verdict == nettests.VerdictInconclusive && got.Method != "" {
			t.Errorf("%s: inconclusive with method %q", c.name, got.Method)
		}
	}
}

// TestNoLookupIsNoDNSEvidence: a URL whose lookup was never recorded (no attempt,
// no address) has no DNS verdict, whatever the control resolved.
func TestNoLookupIsNoDNSEvidence(t *testing.T) {
	o := plainHTTPObs(pinSiteIP, map[string]thproto.IPInfo{pinSiteIP: {ASN: pinASN}})
	o.DNS = DNSObservation{Resolver: "system"}
	got := Decide(o, nil)
	if strings.HasPrefix(got.Method, "dns.") || got.DNSConsistency == "inconsistent" {
		t.Fatalf("no lookup recorded: %+v, want no DNS verdict", got)
	}
}

// TestControlFetchWithoutStatus: a control that reports neither a failure nor a
// status fetched nothing, so a plain-HTTP page cannot be compared with it.
func TestControlFetchWithoutStatus(t *testing.T) {
	for _, c := range []struct {
		status  int64
		verdict string
		reason  string
	}{{0, nettests.VerdictInconclusive, ReasonControlFailed}, {-1, nettests.VerdictInconclusive, ReasonControlFailed}, {200, nettests.VerdictOK, ""}} {
		o := plainHTTPObs(pinSiteIP, map[string]thproto.IPInfo{pinSiteIP: {ASN: pinASN}})
		o.Control.HTTPRequest.StatusCode = c.status
		if got := Decide(o, nil); got.Verdict != c.verdict || got.Reason != c.reason {
			t.Errorf("control status %d: %s (%s), want %s (%s)", c.status, got.Verdict, got.Reason, c.verdict, c.reason)
		}
	}
}

// TestQUICBlockedNeedsAWorkingControl pins each way the control shows that the
// site's HTTP/3 works: an HTTP/3 fetch without failure and with a status, or a QUIC
// handshake.
func TestQUICBlockedNeedsAWorkingControl(t *testing.T) {
	ep := pinSiteIP + ":443"
	fail := strp("generic_timeout_error")
	cases := []struct {
		name   string
		h3     *thproto.HTTPResult
		quic   map[string]thproto.TLSResult
		method string
	}{
		{"control fetched over HTTP/3", &thproto.HTTPResult{StatusCode: 200}, nil, nettests.MethodQUICBlocked},
		{"control's HTTP/3 fetch failed", &thproto.HTTPResult{StatusCode: 200, Failure: fail}, nil, ""},
		{"control's HTTP/3 fetch got no status", &thproto.HTTPResult{}, nil, ""},
		{"control's QUIC handshake worked", nil, map[string]thproto.TLSResult{ep: {Status: true}}, nettests.MethodQUICBlocked},
		{"control's QUIC handshake failed", &thproto.HTTPResult{Failure: fail}, map[string]thproto.TLSResult{ep: {Status: false, Failure: fail}}, ""},
		{"control did not try", nil, nil, ""},
	}
	for _, c := range cases {
		o := plainHTTPObs(pinSiteIP, map[string]thproto.IPInfo{pinSiteIP: {ASN: pinASN}})
		o.QUIC = []QUICObservation{{Address: ep, Attempts: Attempts{"generic_timeout_error", "generic_timeout_error"}}}
		o.Control.HTTP3Request, o.Control.QUICHandshake = c.h3, c.quic
		got := Decide(o, nil)
		want := nettests.VerdictOK
		if c.method != "" {
			want = nettests.VerdictBlocked
		}
		if got.Verdict != want || got.Method != c.method {
			t.Errorf("%s: %s %s, want %s %s", c.name, got.Verdict, got.Method, want, c.method)
		}
	}
	// One QUIC success among failures is intermittent, not blocked.
	o := plainHTTPObs(pinSiteIP, map[string]thproto.IPInfo{pinSiteIP: {ASN: pinASN}})
	o.QUIC = []QUICObservation{{Address: ep, Attempts: Attempts{"generic_timeout_error", ""}}}
	o.Control.HTTP3Request = &thproto.HTTPResult{StatusCode: 200}
	if got := Decide(o, nil); got.Verdict != nettests.VerdictIntermittent || got.Method != nettests.MethodQUICBlocked {
		t.Errorf("mixed QUIC: %s %s, want intermittent quic.blocked", got.Verdict, got.Method)
	}
}

// httpsPinObs is an https:// URL answered by pinSiteIP whose handshakes all failed
// with failure (on a completed handshake when the failure is a certificate's).
func httpsPinObs(failure string) *Observations {
	u, _ := url.Parse("https://tls.example.org/")
	return &Observations{
		URL: u, Port: "443",
		DNS: DNSObservation{Resolver: "system", Attempts: Attempts{""}, Addrs: []string{pinSiteIP}},
		Endpoints: []EndpointObservation{{Address: pinSiteIP + ":443", TCP: Attempts{""},
			TLS: &TLSObservation{SNI: "tls.example.org", Attempts: Attempts{failure, failure}, Completed: isCertFailure(failure), Issuer: "CN=Interceptor A"}}},
		Control: &thproto.Response{
			TCPConnect:  map[string]thproto.TCPResult{pinSiteIP + ":443": {Status: true}},
			HTTPRequest: thproto.HTTPResult{StatusCode: 200, BodyLength: 1000, Title: "TLS Example"},
			DNS:         thproto.DNSResult{Addrs: []string{pinSiteIP}},
			IPInfo:      map[string]thproto.IPInfo{pinSiteIP: {ASN: pinASN}},
		},
	}
}

// TestTransportClauses pins the clauses of the TCP and TLS stages one by one.
func TestTransportClauses(t *testing.T) {
	t.Run("an endpoint never connected does not make a flaky one clean", func(t *testing.T) {
		o := plainHTTPObs(pinSiteIP, map[string]thproto.IPInfo{pinSiteIP: {ASN: pinASN}})
		o.Endpoints = []EndpointObservation{
			{Address: pinSiteIP + ":80", TCP: Attempts{netx.FailureGenericTimeout, ""}},
			{Address: pinSameASN + ":80"},
		}
		got := Decide(o, nil)
		if got.Verdict != nettests.VerdictIntermittent || got.Method != nettests.MethodTCPTimeout {
			t.Fatalf("%s %s, want intermittent tcp.timeout", got.Verdict, got.Method)
		}
	})
	for _, c := range []struct {
		name    string
		ctl     thproto.TCPResult
		verdict string
	}{
		{"the control's connect failed too: down", thproto.TCPResult{Failure: strp(thproto.FailureConnectionRefused)}, nettests.VerdictDown},
		{"the control refused to connect to a private address: its fetch decides", thproto.TCPResult{Failure: strp(thproto.FailurePrivateRefused)}, nettests.VerdictBlocked},
		{"the control did not connect and its fetch got no status: down", thproto.TCPResult{Failure: strp(thproto.FailurePrivateRefused)}, nettests.VerdictDown},
		{"the control connected: blocked", thproto.TCPResult{Status: true}, nettests.VerdictBlocked},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := plainHTTPObs(pinSiteIP, map[string]thproto.IPInfo{pinSiteIP: {ASN: pinASN}})
			o.Endpoints = []EndpointObservation{{Address: pinSiteIP + ":80", TCP: Attempts{netx.FailureConnectionReset, netx.FailureConnectionReset}}}
			o.HTTP = nil
			o.Control.TCPConnect[pinSiteIP+":80"] = c.ctl
			if strings.Contains(c.name, "no status") {
				o.Control.HTTPRequest.StatusCode = 0
			}
			got := Decide(o, nil)
			if got.Verdict != c.verdict || (c.verdict == nettests.VerdictBlocked && got.Method != nettests.MethodTCPReset) {
				t.Fatalf("%s %s, want %s", got.Verdict, got.Method, c.verdict)
			}
		})
	}
	for _, c := range []struct {
		name      string
		ctlTLS    map[string]thproto.TLSResult
		ctlStatus int64
		verdict   string
	}{
		{"unverified chain, the control did no handshake but fetched: mitm", nil, 200, nettests.VerdictBlocked},
		{"unverified chain, the control did no handshake and fetched nothing: down", nil, 0, nettests.VerdictDown},
		{"unverified chain, the control's handshake worked: mitm", map[string]thproto.TLSResult{pinSiteIP + ":443": {Status: true}}, 0, nettests.VerdictBlocked},
		{"unverified chain, the control's handshake failed: down", map[string]thproto.TLSResult{pinSiteIP + ":443": {Status: false}}, 200, nettests.VerdictDown},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := httpsPinObs(netx.FailureSSLUnknownAuthority)
			o.Control.TLSHandshake, o.Control.HTTPRequest.StatusCode = c.ctlTLS, c.ctlStatus
			got := Decide(o, nil)
			if got.Verdict != c.verdict || (c.verdict == nettests.VerdictBlocked && got.Method != nettests.MethodTLSMITM) {
				t.Fatalf("%s %s, want %s", got.Verdict, got.Method, c.verdict)
			}
			if got.Evidence.Issuer != "CN=Interceptor A" {
				t.Fatalf("issuer %q, want the probe's chain's", got.Evidence.Issuer)
			}
		})
	}
	t.Run("the first endpoint's issuer is the evidence", func(t *testing.T) {
		o := httpsPinObs(netx.FailureSSLUnknownAuthority)
		second := o.Endpoints[0]
		second.Address = pinSameASN + ":443"
		second.TLS = &TLSObservation{SNI: "tls.example.org", Attempts: Attempts{netx.FailureSSLUnknownAuthority}, Completed: true, Issuer: "CN=Interceptor B"}
		o.Endpoints = append(o.Endpoints, second)
		o.DNS.Addrs = []string{pinSiteIP, pinSameASN}
		o.Control.IPInfo[pinSameASN] = thproto.IPInfo{ASN: pinASN}
		got := Decide(o, nil)
		if got.Method != nettests.MethodTLSMITM || got.Evidence.Issuer != "CN=Interceptor A" || len(got.Evidence.Addresses) != 2 {
			t.Fatalf("%s %s issuer %q addresses %v, want tls.mitm, the first issuer, both addresses", got.Verdict, got.Method, got.Evidence.Issuer, got.Evidence.Addresses)
		}
	})
}

// TestBenignSNIEvidence: the benign-SNI retry is reported only when it was tried,
// and without a control it alone can show that the name is what is blocked.
func TestBenignSNIEvidence(t *testing.T) {
	for _, c := range []struct {
		name     string
		benign   Attempts
		control  bool
		verdict  string
		reported *bool
	}{
		{"not tried, control", nil, true, nettests.VerdictBlocked, nil},
		{"worked, control", Attempts{""}, true, nettests.VerdictBlocked, boolPtr(true)},
		{"failed, control", Attempts{netx.FailureConnectionReset}, true, nettests.VerdictBlocked, boolPtr(false)},
		{"worked, no control", Attempts{""}, false, nettests.VerdictBlocked, boolPtr(true)},
		{"failed, no control", Attempts{netx.FailureConnectionReset}, false, nettests.VerdictInconclusive, boolPtr(false)},
		{"not tried, no control", nil, false, nettests.VerdictInconclusive, nil},
	} {
		o := httpsPinObs(netx.FailureConnectionReset)
		if c.benign != nil {
			o.Endpoints[0].TLS.BenignSNI, o.Endpoints[0].TLS.Benign = "example.com", c.benign
		}
		if !c.control {
			o.Control = nil
		}
		got := Decide(o, nil)
		if got.Verdict != c.verdict || (got.Verdict == nettests.VerdictBlocked && got.Method != nettests.MethodTLSReset) {
			t.Errorf("%s: %s %s, want %s", c.name, got.Verdict, got.Method, c.verdict)
		}
		w := got.Evidence.BenignSNIWorked
		if (w == nil) != (c.reported == nil) || (w != nil && *w != *c.reported) {
			t.Errorf("%s: benign_sni_worked %v, want %v", c.name, w, c.reported)
		}
	}
}

// TestExplainedLossDetail: a stage whose timeouts the canaries' loss explains
// leaves an ok verdict with the explanation as the whole detail.
func TestExplainedLossDetail(t *testing.T) {
	o := plainHTTPObs(pinSiteIP, map[string]thproto.IPInfo{pinSiteIP: {ASN: pinASN}})
	o.DNS.Attempts = Attempts{netx.FailureGenericTimeout, ""}
	o.CanaryLoss = &LossSample{Failed: 5, Attempts: 10}
	got := Decide(o, nil)
	// Laplace's rule: (5+1)/(10+2) = 50 %.
	if got.Verdict != nettests.VerdictOK || !strings.HasPrefix(got.Evidence.Detail, "dns: 1 of 2 tries timed out") ||
		!strings.Contains(got.Evidence.Detail, "canaries lost 5 of 10 connects in the same window (50.0 %)") {
		t.Fatalf("%s, detail %q; want ok with the dns explanation first", got.Verdict, got.Evidence.Detail)
	}
	o.CanaryLoss = nil
	if got := Decide(o, nil); got.Verdict != nettests.VerdictIntermittent || got.Evidence.Detail != "" {
		t.Fatalf("without a loss sample: %s, detail %q; want intermittent, no detail", got.Verdict, got.Evidence.Detail)
	}
}

// TestDiffCorroboratedByAnErrorPage: a page that differs from the control's is
// blocked (http.diff) when the control got a 2xx and the probe a 4xx or 5xx; any
// other pair of statuses leaves it the site's.
func TestDiffCorroboratedByAnErrorPage(t *testing.T) {
	for _, c := range []struct {
		probe, control int
		blocked        bool
	}{
		{400, 200, true}, {403, 200, true}, {499, 200, true}, {500, 200, true}, {503, 200, true}, {599, 200, true},
		{399, 200, false}, {302, 200, false}, {600, 200, false}, {200, 200, false},
		{403, 299, true}, {403, 300, false}, {403, 199, false},
	} {
		o := plainHTTPObs(pinSiteIP, map[string]thproto.IPInfo{pinSiteIP: {ASN: pinASN}})
		o.HTTP.StatusCode, o.HTTP.Title, o.HTTP.BodyLength = c.probe, "Unrelated Words Here", 150
		o.HTTP.Header = http.Header{"X-Other": {"1"}}
		o.Control.HTTPRequest.StatusCode = int64(c.control)
		got := Decide(o, nil)
		if blocked := got.Verdict == nettests.VerdictBlocked && got.Method == nettests.MethodHTTPDiff; blocked != c.blocked {
			t.Errorf("probe %d, control %d: %s %s (%q), want blocked http.diff: %v", c.probe, c.control, got.Verdict, got.Method, got.Evidence.Detail, c.blocked)
		}
	}
}
