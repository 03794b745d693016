package service

import (
	"sort"
	"strings"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
)

// Service verdicts (test_keys.verdict of the messaging and circumvention
// nettests, DESIGN.md): ok, blocked, degraded (some endpoints blocked, the app may
// still work) and inconclusive.
const (
	VerdictOK           = nettests.VerdictOK
	VerdictBlocked      = nettests.VerdictBlocked
	VerdictDegraded     = nettests.VerdictDegraded
	VerdictInconclusive = nettests.VerdictInconclusive
)

// Endpoint is one measured endpoint with its verdict, in the per-URL vocabulary:
// ok, blocked (with a method), down, inconclusive.
type Endpoint struct {
	ID      string   `json:"id"`
	Role    string   `json:"role"`
	Host    string   `json:"host"`
	Port    int      `json:"port"`
	Addrs   []string `json:"addrs"`
	Verdict string   `json:"verdict"`
	Method  *string  `json:"method"`
	// Failure and FailedOperation are the step that failed, as netx classified it.
	Failure         *string `json:"failure"`
	FailedOperation *string `json:"failed_operation"`
	// DNSConsistent, when the service's addresses are known (facebook_messenger's
	// ASN prefixes), says whether the resolved addresses are the service's.
	DNSConsistent *bool `json:"dns_consistent,omitempty"`
}

// NewEndpoint records an observation of t, without a verdict yet (Judge gives it).
func NewEndpoint(t Target, o Observation) Endpoint {
	e := Endpoint{ID: t.ID, Role: t.Role, Host: t.Host, Port: t.Port, Addrs: o.Addrs, Failure: o.Failure}
	if e.Addrs == nil {
		e.Addrs = []string{}
	}
	if o.Operation != "" {
		op := o.Operation
		e.FailedOperation = &op
	}
	return e
}

// MethodOf names the blocking method a failure of operation shows.
func MethodOf(operation, failure string) string {
	switch operation {
	case "resolve":
		switch failure {
		case netx.FailureDNSNXDOMAIN:
			return nettests.MethodDNSNXDOMAIN
		case netx.FailureGenericTimeout:
			return nettests.MethodDNSTimeout
		case netx.FailureDNSBogon:
			return nettests.MethodDNSBogon
		}
		return nettests.MethodDNSFailure
	case "connect":
		switch failure {
		case netx.FailureGenericTimeout:
			return nettests.MethodTCPTimeout
		case netx.FailureHostUnreachable, netx.FailureNetworkUnreachable:
			return nettests.MethodTCPUnreachable
		}
		return nettests.MethodTCPReset
	case "tls_handshake":
		switch {
		case isVerifyFailure(failure):
			return nettests.MethodTLSMITM
		case failure == netx.FailureGenericTimeout:
			return nettests.MethodTLSTimeout
		case failure == netx.FailureEOF:
			return nettests.MethodTLSEOF
		}
		return nettests.MethodTLSReset
	}
	return nettests.MethodHTTPFailure
}

// conclusive reports whether a method is evidence of interference on its own,
// whatever the endpoint's siblings do: a chain that does not reach the expected
// root, a bogon answer, or a foreign answer that then fails, is never a server out
// of service.
func conclusive(method string) bool {
	switch method {
	case nettests.MethodTLSMITM, nettests.MethodDNSBogon, nettests.MethodDNSInconsistent:
		return true
	}
	return false
}

// Judge gives every endpoint its verdict (docs/methodology-services.md):
//   - every step succeeded: ok;
//   - a mitm chain, a bogon answer, or an answer outside the service's
//     addresses followed by a failure: blocked, whatever else answers (an answer
//     outside them whose chain verifies is the service: ok);
//   - another failure while an endpoint of the same role answered: down (one
//     server of a pool out of service: a censor blocking the service by address,
//     name or SNI blocks the pool, and the app uses the servers that answer);
//   - another failure while no endpoint of its role answered: blocked, with the
//     method the failure shows.
//
// networkReason, when set (the network was down), makes every verdict but ok
// inconclusive (nettests.GateURL).
func Judge(eps []Endpoint, networkReason string) {
	answered := map[string]bool{}
	for _, e := range eps {
		if e.Failure == nil {
			answered[e.Role] = true
		}
	}
	for i := range eps {
		e := &eps[i]
		e.Verdict, e.Method = VerdictOK, nil
		if e.Failure != nil {
			op := ""
			if e.FailedOperation != nil {
				op = *e.FailedOperation
			}
			m := MethodOf(op, *e.Failure)
			if e.DNSConsistent != nil && !*e.DNSConsistent {
				m = nettests.MethodDNSInconsistent
			}
			switch {
			case conclusive(m) || !answered[e.Role]:
				e.Verdict, e.Method = VerdictBlocked, &m
			default:
				e.Verdict = nettests.VerdictDown
			}
		}
		if nettests.GateURL(e.Verdict, networkReason) != "" {
			e.Verdict, e.Method = VerdictInconclusive, nil
		}
	}
}

// Role is one purpose of a service's endpoints. Essential: the app does not work
// without at least one of them (WhatsApp's chat endpoints; its web client is not).
type Role struct {
	Name      string
	Label     string // for people: "chat endpoints", "web client"
	Essential bool
}

// Verdict is a service verdict: what is blocked, when anything is, and why it is
// inconclusive, when it is.
type Verdict struct {
	Verdict string
	// Blocked says what is blocked and how, role by role: "chat endpoints:
	// tcp.timeout; web client: tls.reset". "" when nothing is.
	Blocked string
	// Methods lists the distinct methods of blocked endpoints, sorted.
	Methods []string
	Reason  string
}

// Decide is the service verdict from judged endpoints (docs/methodology-services.md):
//   - an essential role with blocked endpoints and none ok: blocked;
//   - every role blocked, none with an endpoint ok (a service whose roles are
//     alternatives, as dnscheck's resolvers): blocked;
//   - else any blocked endpoint: degraded (the app may still work);
//   - else an essential role with no endpoint ok, down or blocked (all
//     inconclusive, or none measured): inconclusive;
//   - else ok.
//
// A network reason makes anything but ok inconclusive with that reason.
func Decide(roles []Role, eps []Endpoint, networkReason string) Verdict {
	type state struct{ ok, blocked, settled int }
	byRole := map[string]*state{}
	methods := map[string]bool{}
	perRole := map[string]map[string]bool{}
	for _, e := range eps {
		s := byRole[e.Role]
		if s == nil {
			s = &state{}
			byRole[e.Role] = s
		}
		switch e.Verdict {
		case VerdictOK:
			s.ok++
			s.settled++
		case VerdictBlocked:
			s.blocked++
			s.settled++
			if e.Method != nil {
				methods[*e.Method] = true
				if perRole[e.Role] == nil {
					perRole[e.Role] = map[string]bool{}
				}
				perRole[e.Role][*e.Method] = true
			}
		case nettests.VerdictDown:
			s.settled++
		}
	}
	v := Verdict{Verdict: VerdictOK}
	var parts []string
	anyBlocked, essentialBlocked, essentialUnknown := false, false, false
	allBlocked := len(byRole) > 0
	for _, r := range roles {
		s := byRole[r.Name]
		if s == nil {
			s = &state{} // no endpoint of this role: it cannot make the service blocked
		}
		if s.blocked > 0 {
			anyBlocked = true
			parts = append(parts, r.Label+": "+strings.Join(sortedKeys(perRole[r.Name]), ", "))
			if r.Essential && s.ok == 0 {
				essentialBlocked = true
			}
		}
		if byRole[r.Name] != nil && (s.blocked == 0 || s.ok > 0) {
			allBlocked = false
		}
		if r.Essential && s.settled == 0 {
			essentialUnknown = true
		}
	}
	switch {
	case essentialBlocked, allBlocked:
		v.Verdict = VerdictBlocked
	case anyBlocked:
		v.Verdict = VerdictDegraded
	case essentialUnknown:
		v.Verdict, v.Reason = VerdictInconclusive, ReasonNotMeasured
	}
	v.Blocked, v.Methods = strings.Join(parts, "; "), sortedKeys(methods)
	if reason := nettests.GateURL(v.Verdict, networkReason); reason != "" {
		return Verdict{Verdict: VerdictInconclusive, Reason: reason, Methods: []string{}}
	}
	return v
}

// ReasonNotMeasured: no endpoint of an essential role gave a verdict.
const ReasonNotMeasured = "not_measured"

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
