package webconnectivity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
	"github.com/vantage-probe/vantage/probe/netx"
)

const (
	siteIP  = "93.184.216.34"
	cdnIP   = "151.101.1.1"
	fakeIP  = "203.0.114.9" // public, outside the control's set
	benign  = "example.com"
	ok      = ""
	timeout = netx.FailureGenericTimeout
	reset   = netx.FailureConnectionReset
)

func strp(s string) *string { return &s }

// cleanObs is what a probe sees of an https site nobody interferes with.
func cleanObs() *Observations {
	u, _ := url.Parse("https://www.example.org/")
	return &Observations{
		URL: u, Port: "443",
		DNS: DNSObservation{Resolver: "system", Attempts: Attempts{ok}, Addrs: []string{siteIP}},
		Endpoints: []EndpointObservation{{
			Address: siteIP + ":443", TCP: Attempts{ok},
			TLS: &TLSObservation{SNI: "www.example.org", Attempts: Attempts{ok}, Completed: true},
		}},
		HTTP: &HTTPObservation{Attempts: Attempts{ok}, FinalURL: "https://www.example.org/", StatusCode: 200,
			Header: http.Header{"X-Site": {"1"}}, BodyLength: 1000, Title: "Example Domain Homepage"},
		Control: cleanControl(),
	}
}

func cleanControl() *thproto.Response {
	return &thproto.Response{
		TCPConnect:   map[string]thproto.TCPResult{siteIP + ":443": {Status: true}},
		TLSHandshake: map[string]thproto.TLSResult{siteIP + ":443": {Status: true, ServerName: "www.example.org"}},
		HTTPRequest: thproto.HTTPResult{StatusCode: 200, BodyLength: 1000, Title: "Example Domain Homepage",
			Headers: map[string]string{"X-Site": "1"}},
		DNS:    thproto.DNSResult{Addrs: []string{siteIP}},
		IPInfo: map[string]thproto.IPInfo{siteIP: {ASN: 15133, Flags: 3}},
	}
}

// httpObs turns cleanObs into a plain http:// URL on port 80.
func httpObs(o *Observations) *Observations {
	o.URL, _ = url.Parse("http://www.example.org/")
	o.Port = "80"
	o.Endpoints = []EndpointObservation{
		{Address: siteIP + ":80", TCP: Attempts{ok}},
		{Address: siteIP + ":443", TCP: Attempts{ok}, TLS: &TLSObservation{SNI: "www.example.org", Attempts: Attempts{ok}, Completed: true}},
	}
	o.HTTP.FinalURL = "http://www.example.org/"
	o.Control.TCPConnect[siteIP+":80"] = thproto.TCPResult{Status: true}
	return o
}

// selfSignedChain returns a one-certificate chain whose issuer has common name cn.
func selfSignedChain(t *testing.T, cn string) [][]byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn, Organization: []string{cn}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{der}
}

func TestDecide(t *testing.T) {
	qaznet := selfSignedChain(t, "Qaznet Trust Network")
	cases := []struct {
		name                    string
		edit                    func(o *Observations)
		verdict, method, reason string
	}{
		{"clean https", func(o *Observations) {}, nettests.VerdictOK, "", ""},
		{"clean http", func(o *Observations) { httpObs(o) }, nettests.VerdictOK, "", ""},
		{"dns nxdomain", func(o *Observations) {
			o.DNS = DNSObservation{Attempts: Attempts{netx.FailureDNSNXDOMAIN, netx.FailureDNSNXDOMAIN, netx.FailureDNSNXDOMAIN}}
			o.Endpoints, o.HTTP = nil, nil
		}, nettests.VerdictBlocked, nettests.MethodDNSNXDOMAIN, ""},
		{"dns no answer", func(o *Observations) {
			o.DNS = DNSObservation{Attempts: Attempts{netx.FailureDNSNoAnswer, netx.FailureDNSNoAnswer, netx.FailureDNSNoAnswer}}
			o.Endpoints, o.HTTP = nil, nil
		}, nettests.VerdictBlocked, nettests.MethodDNSNXDOMAIN, ""},
		{"dns timeout", func(o *Observations) {
			o.DNS = DNSObservation{Attempts: Attempts{timeout, timeout, timeout}}
			o.Endpoints, o.HTTP = nil, nil
		}, nettests.VerdictBlocked, nettests.MethodDNSTimeout, ""},
		{"dns servfail", func(o *Observations) {
			o.DNS = DNSObservation{Attempts: Attempts{netx.FailureDNSServfail, netx.FailureDNSServfail, netx.FailureDNSServfail}}
			o.Endpoints, o.HTTP = nil, nil
		}, nettests.VerdictBlocked, nettests.MethodDNSFailure, ""},
		{"dns nxdomain, control too: site down", func(o *Observations) {
			o.DNS = DNSObservation{Attempts: Attempts{netx.FailureDNSNXDOMAIN, netx.FailureDNSNXDOMAIN, netx.FailureDNSNXDOMAIN}}
			o.Endpoints, o.HTTP = nil, nil
			o.Control.DNS = thproto.DNSResult{Failure: strp(thproto.FailureDNSNameError)}
		}, nettests.VerdictDown, "", ""},
		{"dns flaky", func(o *Observations) { o.DNS.Attempts = Attempts{timeout, ok} },
			nettests.VerdictIntermittent, nettests.MethodDNSTimeout, ""},
		{"dns bogon", func(o *Observations) { o.DNS.Addrs = []string{"10.10.34.35"} },
			nettests.VerdictBlocked, nettests.MethodDNSBogon, ""},
		{"dns bogon without control", func(o *Observations) { o.DNS.Addrs = []string{"127.0.0.1"}; o.Control = nil },
			nettests.VerdictBlocked, nettests.MethodDNSBogon, ""},
		{"private address the control also gets (lab, intranet)", func(o *Observations) {
			o.DNS.Addrs = []string{"10.0.0.5"}
			o.Control.DNS.Addrs = []string{"10.0.0.5"}
			o.Endpoints[0].Address = "10.0.0.5:443"
		}, nettests.VerdictOK, "", ""},
		{"lab: another private answer than the control's is inconsistent, not bogon", func(o *Observations) {
			o.DNS.Addrs = []string{"10.0.0.99"}
			o.Control.DNS.Addrs = []string{"10.0.0.5"}
			o.Endpoints[0] = EndpointObservation{Address: "10.0.0.99:443", TCP: Attempts{ok},
				TLS: &TLSObservation{Attempts: Attempts{netx.FailureSSLUnknownAuthority}, Completed: true}}
		}, nettests.VerdictBlocked, nettests.MethodDNSInconsistent, ""},
		{"lab: a loopback answer while the control's are private is bogon", func(o *Observations) {
			o.DNS.Addrs = []string{"127.0.0.1"}
			o.Control.DNS.Addrs = []string{"10.0.0.5"}
		}, nettests.VerdictBlocked, nettests.MethodDNSBogon, ""},
		{"dns injection", func(o *Observations) { o.DNS.Injected = true },
			nettests.VerdictBlocked, nettests.MethodDNSInjection, ""},
		{"dns inconsistent", func(o *Observations) {
			o.DNS.Addrs = []string{fakeIP}
			o.Endpoints[0] = EndpointObservation{Address: fakeIP + ":443", TCP: Attempts{ok},
				TLS: &TLSObservation{Attempts: Attempts{netx.FailureSSLInvalidHostname}, Completed: true}}
		}, nettests.VerdictBlocked, nettests.MethodDNSInconsistent, ""},
		{"CDN answer differs from the control but validates: ok", func(o *Observations) {
			o.DNS.Addrs = []string{cdnIP}
			o.Endpoints[0].Address = cdnIP + ":443"
		}, nettests.VerdictOK, "", ""},
		{"CDN answer in a control ASN: ok", func(o *Observations) {
			o.DNS.Addrs = []string{cdnIP}
			o.Endpoints[0] = EndpointObservation{Address: cdnIP + ":443", TCP: Attempts{ok},
				TLS: &TLSObservation{Attempts: Attempts{ok}}}
			o.Control.IPInfo[cdnIP] = thproto.IPInfo{ASN: 15133, Flags: 1}
		}, nettests.VerdictOK, "", ""},
		{"tcp timeout", func(o *Observations) {
			o.Endpoints[0].TCP, o.Endpoints[0].TLS.Attempts = Attempts{timeout, timeout, timeout}, nil
			o.HTTP.Attempts = Attempts{timeout, timeout, timeout}
		}, nettests.VerdictBlocked, nettests.MethodTCPTimeout, ""},
		{"tcp reset", func(o *Observations) {
			o.Endpoints[0].TCP, o.Endpoints[0].TLS.Attempts = Attempts{netx.FailureConnectionRefused, reset, reset}, nil
			o.HTTP.Attempts = Attempts{reset, reset, reset}
		}, nettests.VerdictBlocked, nettests.MethodTCPReset, ""},
		{"tcp unreachable", func(o *Observations) {
			u := netx.FailureHostUnreachable
			o.Endpoints[0].TCP, o.Endpoints[0].TLS.Attempts = Attempts{u, u, u}, nil
			o.HTTP.Attempts = Attempts{u, u, u}
		}, nettests.VerdictBlocked, nettests.MethodTCPUnreachable, ""},
		{"tcp fails for the control too: down", func(o *Observations) {
			o.Endpoints[0].TCP, o.Endpoints[0].TLS.Attempts = Attempts{timeout, timeout, timeout}, nil
			o.HTTP.Attempts = Attempts{timeout, timeout, timeout}
			o.Control.TCPConnect[siteIP+":443"] = thproto.TCPResult{Failure: strp(timeout)}
			o.Control.HTTPRequest = thproto.HTTPResult{Failure: strp(timeout), StatusCode: -1, BodyLength: -1}
		}, nettests.VerdictDown, "", ""},
		{"tcp timeout without control", func(o *Observations) {
			o.Endpoints[0].TCP, o.Endpoints[0].TLS.Attempts = Attempts{timeout, timeout, timeout}, nil
			o.HTTP.Attempts = Attempts{timeout, timeout, timeout}
			o.Control, o.ControlErr = nil, "no helper answered"
		}, nettests.VerdictInconclusive, "", nettests.ReasonNoControl},
		{"only IPv6 answers, no IPv6 route: not the site's fault", func(o *Observations) {
			nu := netx.FailureNetworkUnreachable
			o.DNS.Addrs = []string{"2606:2800:220:1::1"}
			o.Control.DNS.Addrs = append(o.Control.DNS.Addrs, "2606:2800:220:1::1")
			o.Endpoints = []EndpointObservation{{Address: "[2606:2800:220:1::1]:443", TCP: Attempts{nu, nu, nu}}}
			o.HTTP.Attempts = Attempts{nu, nu, nu}
		}, nettests.VerdictInconclusive, "", ReasonNoIPv6},
		{"IPv4 works, IPv6 unrouted: ok", func(o *Observations) {
			nu := netx.FailureNetworkUnreachable
			o.DNS.Addrs = append(o.DNS.Addrs, "2606:2800:220:1::1")
			o.Control.DNS.Addrs = append(o.Control.DNS.Addrs, "2606:2800:220:1::1")
			o.Endpoints = append(o.Endpoints, EndpointObservation{Address: "[2606:2800:220:1::1]:443", TCP: Attempts{nu, nu, nu}})
		}, nettests.VerdictOK, "", ""},
		{"tcp flaky", func(o *Observations) { o.Endpoints[0].TCP = Attempts{timeout, ok} },
			nettests.VerdictIntermittent, nettests.MethodTCPTimeout, ""},
		{"tls reset with control", func(o *Observations) {
			o.Endpoints[0].TLS = &TLSObservation{Attempts: Attempts{reset, reset, reset}, BenignSNI: benign, Benign: Attempts{ok}}
			o.HTTP.Attempts = Attempts{reset, reset, reset}
		}, nettests.VerdictBlocked, nettests.MethodTLSReset, ""},
		{"tls timeout (KZ 2024) by SNI swap, no control", func(o *Observations) {
			o.Endpoints[0].TLS = &TLSObservation{Attempts: Attempts{timeout, timeout, timeout}, BenignSNI: benign, Benign: Attempts{ok}}
			o.HTTP.Attempts = Attempts{timeout, timeout, timeout}
			o.Control = nil
		}, nettests.VerdictBlocked, nettests.MethodTLSTimeout, ""},
		{"tls eof, benign SNI fails too, no control", func(o *Observations) {
			e := netx.FailureEOF
			o.Endpoints[0].TLS = &TLSObservation{Attempts: Attempts{e, e, e}, BenignSNI: benign, Benign: Attempts{e, e, e}}
			o.HTTP.Attempts = Attempts{e, e, e}
			o.Control = nil
		}, nettests.VerdictInconclusive, "", nettests.ReasonNoControl},
		{"tls eof with control", func(o *Observations) {
			e := netx.FailureEOF
			o.Endpoints[0].TLS = &TLSObservation{Attempts: Attempts{e, e, e}}
			o.HTTP.Attempts = Attempts{e, e, e}
		}, nettests.VerdictBlocked, nettests.MethodTLSEOF, ""},
		{"tls fails for the control too: down", func(o *Observations) {
			e := netx.FailureSSLFailedHandshake
			o.Endpoints[0].TLS = &TLSObservation{Attempts: Attempts{e, e, e}}
			o.HTTP.Attempts = Attempts{e, e, e}
			o.Control.TLSHandshake[siteIP+":443"] = thproto.TLSResult{Failure: strp(e)}
		}, nettests.VerdictDown, "", ""},
		{"tls mitm: unknown authority while the control validates", func(o *Observations) {
			u := netx.FailureSSLUnknownAuthority
			o.Endpoints[0].TLS = &TLSObservation{Attempts: Attempts{u, u, u}, Completed: true, Issuer: "CN=Some Box"}
			o.HTTP.Attempts = Attempts{u, u, u}
		}, nettests.VerdictBlocked, nettests.MethodTLSMITM, ""},
		{"tls mitm by interceptor issuer, no control", func(o *Observations) {
			u := netx.FailureSSLUnknownAuthority
			o.Endpoints[0].TLS = &TLSObservation{Attempts: Attempts{u, u, u}, Completed: true, Chain: qaznet}
			o.HTTP.Attempts = Attempts{u, u, u}
			o.Control = nil
		}, nettests.VerdictBlocked, nettests.MethodTLSMITM, ""},
		{"interceptor root installed by the user: still mitm", func(o *Observations) {
			o.Endpoints[0].TLS.Chain = qaznet
		}, nettests.VerdictBlocked, nettests.MethodTLSMITM, ""},
		{"expired certificate for the control too: down", func(o *Observations) {
			c := netx.FailureSSLInvalidCertificate
			o.Endpoints[0].TLS = &TLSObservation{Attempts: Attempts{c, c, c}, Completed: true}
			o.HTTP.Attempts = Attempts{c, c, c}
			o.Control.TLSHandshake[siteIP+":443"] = thproto.TLSResult{Failure: strp(c)}
		}, nettests.VerdictDown, "", ""},
		{"tls flaky", func(o *Observations) { o.Endpoints[0].TLS.Attempts = Attempts{reset, ok} },
			nettests.VerdictIntermittent, nettests.MethodTLSReset, ""},
		{"http failure after clean tcp/tls", func(o *Observations) {
			o.HTTP.Attempts = Attempts{reset, reset, reset}
		}, nettests.VerdictBlocked, nettests.MethodHTTPFailure, ""},
		{"http failure, control fetch fails too: down", func(o *Observations) {
			o.HTTP.Attempts = Attempts{timeout, timeout, timeout}
			o.Control.HTTPRequest = thproto.HTTPResult{Failure: strp(timeout), StatusCode: -1, BodyLength: -1}
		}, nettests.VerdictDown, "", ""},
		{"http flaky", func(o *Observations) { o.HTTP.Attempts = Attempts{reset, ok} },
			nettests.VerdictIntermittent, nettests.MethodHTTPFailure, ""},
		{"blockpage body, no control needed", func(o *Observations) {
			httpObs(o)
			o.HTTP.Body = []byte("<html><h1>Страница заблокирована</h1></html>")
			o.Control = nil
		}, nettests.VerdictBlocked, nettests.MethodHTTPBlockpage, ""},
		{"451 over plain http", func(o *Observations) { httpObs(o); o.HTTP.StatusCode = 451 },
			nettests.VerdictBlocked, nettests.MethodHTTPBlockpage, ""},
		{"451 over validated https is the site's own", func(o *Observations) { o.HTTP.StatusCode = 451 },
			nettests.VerdictOK, "", ""},
		{"http diff", func(o *Observations) {
			httpObs(o)
			o.HTTP.StatusCode, o.HTTP.BodyLength, o.HTTP.Title, o.HTTP.Header = 403, 120, "Access denied", http.Header{"X-Filter": {"1"}}
		}, nettests.VerdictBlocked, nettests.MethodHTTPDiff, ""},
		{"http similar enough: ok", func(o *Observations) { httpObs(o); o.HTTP.BodyLength = 900 },
			nettests.VerdictOK, "", ""},
		{"plain http without control", func(o *Observations) { httpObs(o); o.Control = nil },
			nettests.VerdictInconclusive, "", nettests.ReasonNoControl},
		{"https success without control is trusted", func(o *Observations) { o.Control = nil },
			nettests.VerdictOK, "", ""},
		{"quic blocked", func(o *Observations) {
			o.QUIC = []QUICObservation{{Address: siteIP + ":443", Attempts: Attempts{timeout, timeout, timeout}}}
			o.Control.QUICHandshake = map[string]thproto.TLSResult{siteIP + ":443": {Status: true}}
		}, nettests.VerdictBlocked, nettests.MethodQUICBlocked, ""},
		{"quic fails for the control too: ok over tcp", func(o *Observations) {
			o.QUIC = []QUICObservation{{Address: siteIP + ":443", Attempts: Attempts{timeout, timeout, timeout}}}
			o.Control.QUICHandshake = map[string]thproto.TLSResult{siteIP + ":443": {Failure: strp(timeout)}}
		}, nettests.VerdictOK, "", ""},
		{"quic flaky", func(o *Observations) {
			o.QUIC = []QUICObservation{{Address: siteIP + ":443", Attempts: Attempts{timeout, ok}}}
		}, nettests.VerdictIntermittent, nettests.MethodQUICBlocked, ""},
		{"throttled: a quarter of the run's median and under 1 Mbit/s", func(o *Observations) {
			o.HTTP.BodyLength, o.HTTP.TransferSeconds = 256<<10, 4 // 512 kbit/s
			o.RunThroughput, o.RunThroughputSamples = 5e6, 3
		}, nettests.VerdictThrottled, "", ""},
		{"slow like the rest of the run: ok", func(o *Observations) {
			o.HTTP.BodyLength, o.HTTP.TransferSeconds = 256<<10, 4
			o.RunThroughput, o.RunThroughputSamples = 80e3, 3
		}, nettests.VerdictOK, "", ""},
		{"slow for the control too: the server, not the path", func(o *Observations) {
			o.HTTP.BodyLength, o.HTTP.TransferSeconds = 256<<10, 4
			o.RunThroughput, o.RunThroughputSamples = 5e6, 3
			o.Control.HTTPRequest.BodyLength, o.Control.HTTPRequest.XFetchSeconds = 256<<10, 5
		}, nettests.VerdictOK, "", ""},
		{"small page: no rate to judge", func(o *Observations) {
			o.HTTP.BodyLength, o.HTTP.TransferSeconds = 10<<10, 2
			o.RunThroughput, o.RunThroughputSamples = 5e6, 3
		}, nettests.VerdictOK, "", ""},
		{"no other page in the run: no comparison", func(o *Observations) {
			o.HTTP.BodyLength, o.HTTP.TransferSeconds = 256<<10, 4
		}, nettests.VerdictOK, "", ""},
		{"partial shutdown, canaries up: blocked stands", func(o *Observations) {
			o.Endpoints[0].TLS = &TLSObservation{Attempts: Attempts{reset, reset, reset}}
			o.HTTP.Attempts = Attempts{reset, reset, reset}
			o.NetworkVerdict, o.Canaries = nettests.NetworkPartialShutdown, boolPtr(true)
		}, nettests.VerdictBlocked, nettests.MethodTLSReset, ""},
		{"partial shutdown, canaries down: not blocked", func(o *Observations) {
			o.Endpoints[0].TLS = &TLSObservation{Attempts: Attempts{reset, reset, reset}}
			o.HTTP.Attempts = Attempts{reset, reset, reset}
			o.NetworkVerdict, o.Canaries = nettests.NetworkPartialShutdown, boolPtr(false)
		}, nettests.VerdictInconclusive, "", ReasonPartialShutdown},
		{"full shutdown: nothing is blocked", func(o *Observations) {
			o.Endpoints[0].TCP, o.Endpoints[0].TLS.Attempts = Attempts{timeout, timeout, timeout}, nil
			o.NetworkVerdict = nettests.NetworkFullShutdown
		}, nettests.VerdictInconclusive, "", nettests.ReasonFullShutdown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := cleanObs()
			c.edit(o)
			d := Decide(o, nil)
			if d.Verdict != c.verdict || d.Method != c.method || d.Reason != c.reason {
				t.Fatalf("Decide = %s/%q/%q (evidence %+v), want %s/%q/%q", d.Verdict, d.Method, d.Reason, d.Evidence, c.verdict, c.method, c.reason)
			}
			tk := newTestKeys()
			tk.applyDecision(d)
			checkBlockingConsistent(t, tk)
		})
	}
}

// checkBlockingConsistent checks OONI's keys against the verdict (ts-017 table).
func checkBlockingConsistent(t *testing.T, tk *TestKeys) {
	t.Helper()
	switch tk.Verdict {
	case nettests.VerdictOK:
		if tk.Blocking != false || !isTrue(tk.Accessible) {
			t.Errorf("ok with blocking=%v accessible=%v", tk.Blocking, tk.Accessible)
		}
	case nettests.VerdictDown:
		if tk.Blocking != false || tk.Accessible == nil || *tk.Accessible {
			t.Errorf("down with blocking=%v accessible=%v", tk.Blocking, tk.Accessible)
		}
	case nettests.VerdictInconclusive:
		if tk.Blocking != nil || tk.Accessible != nil || tk.Method != nil || tk.Reason == nil {
			t.Errorf("inconclusive with blocking=%v accessible=%v method=%v reason=%v", tk.Blocking, tk.Accessible, tk.Method, tk.Reason)
		}
	case nettests.VerdictThrottled:
		if tk.Blocking != "throttled" || !isTrue(tk.Accessible) || tk.Method != nil {
			t.Errorf("throttled with blocking=%v accessible=%v method=%v", tk.Blocking, tk.Accessible, tk.Method)
		}
	default:
		if s, ok := tk.Blocking.(string); !ok || s == "" || tk.Method == nil {
			t.Errorf("%s with blocking=%v method=%v", tk.Verdict, tk.Blocking, tk.Method)
		}
	}
}

func TestHTTPComparison(t *testing.T) {
	ctl := &thproto.HTTPResult{StatusCode: 200, BodyLength: 1000, Title: "Welcome to the Example homepage", Headers: map[string]string{"X-Backend": "a", "Date": "x"}}
	cases := []struct {
		name    string
		p       HTTPObservation
		differs bool
	}{
		{"same", HTTPObservation{StatusCode: 200, BodyLength: 1000, Title: "Welcome to the Example homepage"}, false},
		{"body 71%", HTTPObservation{StatusCode: 200, BodyLength: 710}, false},
		{"body 70% is not enough (strict)", HTTPObservation{StatusCode: 200, BodyLength: 700}, true},
		{"only a common header shared", HTTPObservation{StatusCode: 200, BodyLength: 10, Header: http.Header{"Date": {"y"}}}, true},
		{"uncommon header shared", HTTPObservation{StatusCode: 200, BodyLength: 10, Header: http.Header{"X-Backend": {"b"}}}, false},
		{"title long words match, short ignored", HTTPObservation{StatusCode: 200, BodyLength: 10, Title: "welcome TO THE example Homepage"}, false},
		{"status differs", HTTPObservation{StatusCode: 403, BodyLength: 1000, Title: "Welcome to the Example homepage"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := compareHTTP(&c.p, ctl).Differs(); got != c.differs {
				t.Fatalf("Differs = %v, want %v (%+v)", got, c.differs, compareHTTP(&c.p, ctl))
			}
		})
	}
}

func TestAttemptsJSON(t *testing.T) {
	a := Attempts{timeout, reset, ok}
	b, err := json.Marshal(a)
	if err != nil || string(b) != `["generic_timeout_error","connection_reset",null]` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var back Attempts
	if err := json.Unmarshal(b, &back); err != nil || !slices.Equal(back, a) {
		t.Fatalf("Unmarshal = %v, %v", back, err)
	}
	if !a.Mixed() || a.AllFailed() || a.Failure() != reset || a.Successes() != 1 {
		t.Fatalf("Mixed %v AllFailed %v Failure %q", a.Mixed(), a.AllFailed(), a.Failure())
	}
}
