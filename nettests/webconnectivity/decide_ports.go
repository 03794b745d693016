package webconnectivity

import (
	"net"

	"github.com/vantage-probe/vantage/nettests"
)

// A URL's verdict is about the URL as a user loads it: its own scheme and port.
// What other ports of the same host show (TLS on 443 for an http:// URL) is
// evidence, recorded as other findings; it may validate DNS answers (a chain valid
// for the name proves the address serves it) but never becomes the URL's verdict.

// OtherFinding is what a step on another port of the URL's host showed.
type OtherFinding struct {
	Address     string            `json:"address"`
	Step        string            `json:"step"`   // "tls"
	Method      string            `json:"method"` // what it would mean for a URL on that port
	Failure     string            `json:"failure,omitempty"`
	Issuer      string            `json:"issuer,omitempty"`
	Fingerprint *FingerprintMatch `json:"fingerprint,omitempty"`
}

// judgedPort reports whether an endpoint's port is one the URL's load crosses: the
// URL's own port, and 443 when the fetch ended on an https:// URL of the same host
// (an http:// page that redirects to its https:// twin is loaded over TLS).
func (d *decider) judgedPort(ep *EndpointObservation) bool {
	_, port, err := net.SplitHostPort(ep.Address)
	if err != nil || port == d.o.Port {
		return true
	}
	if h := d.o.HTTP; h != nil && port == "443" && isHTTPSURL(h.FinalURL) {
		return true
	}
	return false
}

// otherPortFindings lists, for the endpoints on ports the URL's load does not
// cross, an interceptor's chain, a chain that does not validate, or handshakes
// that all failed.
func (d *decider) otherPortFindings() []OtherFinding {
	var out []OtherFinding
	for i := range d.o.Endpoints {
		ep := &d.o.Endpoints[i]
		if ep.TLS == nil || d.judgedPort(ep) {
			continue
		}
		hs := append(ep.TLS.Attempts.without(ep.TLS.ConnectFailed), ep.TLS.OtherHandshakes...)
		f := OtherFinding{Address: ep.Address, Step: "tls", Issuer: ep.TLS.Issuer}
		switch m, issuer := d.fp.MatchInterceptor(ep.TLS.Chain); {
		case m != nil:
			f.Method, f.Fingerprint, f.Issuer = nettests.MethodTLSMITM, m, issuer
		case hs.AllFailed() && isCertFailure(hs.Failure()):
			f.Method, f.Failure = nettests.MethodTLSMITM, hs.Failure()
		case hs.AllFailed():
			f.Method, f.Failure = tlsMethod(hs.Failure()), hs.Failure()
		default:
			continue
		}
		out = append(out, f)
	}
	return out
}
