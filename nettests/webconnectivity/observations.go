package webconnectivity

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
)

// Attempts holds one step's tries in order: each element is that try's failure
// string, "" for a success. A step is retried only while it fails, so a success is
// always the last element.
type Attempts []string

// MarshalJSON writes each try as its failure string, null for a success (OONI's
// convention for "failure").
func (a Attempts) MarshalJSON() ([]byte, error) {
	out := make([]*string, len(a))
	for i, f := range a {
		if f != "" {
			out[i] = &f
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (a *Attempts) UnmarshalJSON(b []byte) error {
	var in []*string
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*a = make(Attempts, len(in))
	for i, f := range in {
		if f != nil {
			(*a)[i] = *f
		}
	}
	return nil
}

// without returns the tries not marked in skip (skip may be shorter than a).
func (a Attempts) without(skip []bool) Attempts {
	var out Attempts
	for i, f := range a {
		if i < len(skip) && skip[i] {
			continue
		}
		out = append(out, f)
	}
	return out
}

// Successes counts the tries that worked.
func (a Attempts) Successes() int {
	n := 0
	for _, f := range a {
		if f == "" {
			n++
		}
	}
	return n
}

// AllFailed reports whether the step was tried and no try worked.
func (a Attempts) AllFailed() bool { return len(a) > 0 && a.Successes() == 0 }

// Mixed reports whether some tries failed and some worked.
func (a Attempts) Mixed() bool { s := a.Successes(); return s > 0 && s < len(a) }

// Failure is the failure of the last failing try ("" when none failed): the last is
// what the retries converged on.
func (a Attempts) Failure() string {
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] != "" {
			return a[i]
		}
	}
	return ""
}

// DNSObservation is one resolver's answer for the URL's host.
type DNSObservation struct {
	Resolver string   // "system" or the resolver URL
	Attempts Attempts // one per lookup
	Addrs    []string // union of the addresses of the successful lookups
	// Injected: two replies to one query carried different data (on-path injection).
	Injected bool
}

// TLSObservation is the handshakes with one endpoint.
type TLSObservation struct {
	SNI      string
	Attempts Attempts // "" only for a handshake that completed and validated
	// Completed: some handshake finished (possibly with a chain that does not validate).
	Completed bool
	Chain     [][]byte // DER chain of the last completed handshake
	Issuer    string   // issuer DN of that chain's leaf
	// BenignSNI is the unrelated name tried on a fresh connection to the same address
	// after the target SNI failed; Benign holds those tries (nil when not tried).
	BenignSNI string
	Benign    Attempts
	// ConnectFailed marks, per try, a retry whose fresh connect failed before any
	// handshake: TCP evidence, not TLS.
	ConnectFailed []bool
	// OtherHandshakes are the fetch's handshakes with this endpoint and name, in no
	// particular order: TLS evidence too.
	OtherHandshakes Attempts
}

// EndpointObservation is everything measured on one IP:port.
type EndpointObservation struct {
	Address string // IP:port
	TCP     Attempts
	// OtherConnects are the connects other steps made to this endpoint (TLS retries,
	// the benign SNI, the fetch), in no particular order: TCP evidence too.
	OtherConnects Attempts
	TLS           *TLSObservation // nil when no TLS was tried here
}

// IP returns the endpoint's address without port.
func (e *EndpointObservation) IP() string {
	host, _, err := net.SplitHostPort(e.Address)
	if err != nil {
		return e.Address
	}
	return host
}

// HTTPObservation is the fetch of the URL (redirects followed).
type HTTPObservation struct {
	Attempts Attempts
	// FailedPhase names, per try, the phase of the first hop that failed: "connect"
	// (TCP evidence) or "tls_handshake" (TLS evidence), judged with those steps
	// rather than as http.failure; "" otherwise.
	FailedPhase []string
	FinalURL    string // the last URL of the chain
	StatusCode  int
	Header      http.Header
	Body        []byte // the body read, capped
	BodyLength  int64
	Truncated   bool
	Title       string
	AltSvcH3    bool // the response advertised h3 in Alt-Svc
	// TransferSeconds is the duration of the final round trip (connect to last body
	// byte) of the successful fetch.
	TransferSeconds float64
	// BudgetStopped: the body was still arriving when netx's time budget ended the
	// read; Body is partial and the transfer lasted the whole budget.
	BudgetStopped bool
}

// QUICObservation is the QUIC handshakes with one endpoint.
type QUICObservation struct {
	Address  string
	Attempts Attempts
}

// Observations is everything the probe saw for one URL, and the control's answer:
// the whole input of Decide.
type Observations struct {
	URL        *url.URL
	Port       string // the URL's port, explicit or from the scheme
	HostIsIP   bool
	DNS        DNSObservation
	SecondDNS  *DNSObservation // nil when no second resolver is configured
	Endpoints  []EndpointObservation
	HTTP       *HTTPObservation // nil when there was nothing to fetch from
	QUIC       []QUICObservation
	Control    *thproto.Response // nil when no helper answered
	ControlErr string            // why, when Control is nil
	// ControlHelper is the helper that answered, as configured.
	ControlHelper string
	// NetworkVerdict is the runner's network verdict when the URL was measured, ""
	// when unknown; Canaries is whether canaries answered in the same window as the
	// retries (nil when not asked).
	NetworkVerdict string
	Canaries       *bool
	// CanaryLoss is the canaries' per-connect loss sampled right after the URL's
	// tries, when a step's tries were mixed and every failure a timeout (nil when
	// not sampled): what the network's own loss explains is not the site's.
	CanaryLoss *LossSample
	// LabPrivate: the measurement ran in a lab or test whose whole "internet" is
	// loopback or private, so such answers are not bogons (unspecified ones still
	// are). Never set outside labs (Config.LabAllowPrivate).
	LabPrivate bool
	// RunThroughput is the median throughput (bytes/s) of the run's other large
	// fetches, on the same access path; RunThroughputSamples how many there were.
	RunThroughput        float64
	RunThroughputSamples int
}

// isHTTPS reports whether the URL itself is https.
func (o *Observations) isHTTPS() bool { return o.URL != nil && o.URL.Scheme == "https" }

// primary returns the endpoints on the URL's own port: the ones the fetch uses.
func (o *Observations) primary() []*EndpointObservation {
	var out []*EndpointObservation
	for i := range o.Endpoints {
		ep := &o.Endpoints[i]
		if _, port, err := net.SplitHostPort(ep.Address); err == nil && port == o.Port {
			out = append(out, ep)
		}
	}
	return out
}

// validatedIPs returns the addresses on which a handshake with the URL's host as SNI
// completed with a chain that validates: proof the address serves the name.
func (o *Observations) validatedIPs() map[string]bool {
	out := map[string]bool{}
	for i := range o.Endpoints {
		ep := &o.Endpoints[i]
		if ep.TLS != nil && ep.TLS.Attempts.Successes() > 0 {
			out[ep.IP()] = true
		}
	}
	return out
}
