package webconnectivity

import (
	"testing"

	"github.com/vantage-probe/vantage/nettests"
)

// TestDecideHTTPURLJudgedByItsOwnPort: TLS on 443 of an http:// URL's host is
// evidence, not the URL's verdict, unless the page's load itself crosses 443.
func TestDecideHTTPURLJudgedByItsOwnPort(t *testing.T) {
	qaznet := selfSignedChain(t, "Qaznet Trust Network")
	intercept443 := func(o *Observations) {
		tls := o.Endpoints[1].TLS
		tls.Attempts = Attempts{"ssl_unknown_authority", "ssl_unknown_authority", "ssl_unknown_authority"}
		tls.Chain, tls.Issuer = qaznet, "CN=Qaznet Trust Network"
	}
	for _, tc := range []struct {
		name     string
		mutate   func(o *Observations)
		want     string
		method   string
		findings int
	}{
		{"page loads unmodified, 443 intercepted by a known interceptor", intercept443, nettests.VerdictOK, "", 1},
		{"page loads unmodified, 443 chain does not validate", func(o *Observations) {
			o.Endpoints[1].TLS.Attempts = Attempts{"ssl_unknown_authority", "ssl_unknown_authority"}
			o.Endpoints[1].TLS.Issuer = "CN=Some Proxy CA"
		}, nettests.VerdictOK, "", 1},
		{"page loads unmodified, 443 handshakes reset", func(o *Observations) { o.Endpoints[1].TLS.Attempts = Attempts{reset, reset, reset} }, nettests.VerdictOK, "", 1},
		{"page replaced by a blockpage, 443 intercepted", func(o *Observations) {
			intercept443(o)
			o.HTTP.Body = []byte("<html><h1>Страница заблокирована</h1></html>")
		}, nettests.VerdictBlocked, nettests.MethodHTTPBlockpage, 1},
		{"page redirects to its https twin, 443 intercepted", func(o *Observations) {
			intercept443(o)
			o.HTTP.FinalURL = "https://www.example.org/"
		}, nettests.VerdictBlocked, nettests.MethodTLSMITM, 0},
		{"clean", func(*Observations) {}, nettests.VerdictOK, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := httpObs(cleanObs())
			tc.mutate(o)
			d := Decide(o, nil)
			if d.Verdict != tc.want || d.Method != tc.method {
				t.Fatalf("verdict %s %s, want %s %s (evidence %+v)", d.Verdict, d.Method, tc.want, tc.method, d.Evidence)
			}
			if len(d.OtherFindings) != tc.findings {
				t.Fatalf("other findings %+v, want %d", d.OtherFindings, tc.findings)
			}
			if tc.findings == 1 {
				f := d.OtherFindings[0]
				if f.Address != siteIP+":443" || f.Step != "tls" || f.Method == "" {
					t.Errorf("finding %+v: want the 443 endpoint, its step and method", f)
				}
			}
		})
	}
}

// TestDecideHTTPSURLInterceptedStillBlocked: an https:// URL's own port is 443.
func TestDecideHTTPSURLInterceptedStillBlocked(t *testing.T) {
	o := cleanObs()
	o.Endpoints[0].TLS.Attempts = Attempts{"ssl_unknown_authority"}
	o.Endpoints[0].TLS.Chain = selfSignedChain(t, "Qaznet Trust Network")
	if d := Decide(o, nil); d.Verdict != nettests.VerdictBlocked || d.Method != nettests.MethodTLSMITM || len(d.OtherFindings) != 0 {
		t.Fatalf("verdict %s %s findings %v, want blocked tls.mitm and no other finding", d.Verdict, d.Method, d.OtherFindings)
	}
}
