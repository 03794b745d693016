package service

import (
	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
)

// Keys are the vantage keys every service nettest carries beside OONI's: the
// service verdict, what is blocked, and every endpoint with its verdict.
type Keys struct {
	Verdict string `json:"verdict"`
	// Blocked says what is blocked and how ("chat endpoints: tcp.timeout"); null
	// unless blocked or degraded.
	Blocked *string `json:"blocked_endpoints"`
	// Methods are the methods of the blocked endpoints, sorted.
	Methods []string `json:"methods"`
	// Method is the first of Methods (null when none): the one key the
	// collector's method filter reads, as for web_connectivity.
	Method *string `json:"method"`
	// Reason says why the verdict is inconclusive; null otherwise.
	Reason    *string    `json:"reason"`
	Endpoints []Endpoint `json:"endpoints"`
}

var _ nettests.ServiceResult = (*Keys)(nil)

// Set stores a decided verdict.
func (k *Keys) Set(v Verdict) {
	k.Verdict, k.Blocked, k.Reason, k.Methods, k.Method = v.Verdict, nil, nil, v.Methods, nil
	if k.Methods == nil {
		k.Methods = []string{}
	}
	if len(k.Methods) > 0 {
		m := k.Methods[0]
		k.Method = &m
	}
	if v.Blocked != "" {
		b := v.Blocked
		k.Blocked = &b
	}
	if v.Reason != "" {
		r := v.Reason
		k.Reason = &r
	}
	if k.Endpoints == nil {
		k.Endpoints = []Endpoint{}
	}
}

// ServiceVerdict implements nettests.ServiceResult.
func (k *Keys) ServiceVerdict() (string, string) {
	if k.Blocked == nil {
		return k.Verdict, ""
	}
	return k.Verdict, *k.Blocked
}

// ServiceMethods implements nettests.ServiceResult.
func (k *Keys) ServiceMethods() []string { return k.Methods }

// MarkInconclusive implements nettests.ServiceResult: an ok service stays ok (it
// did work), anything else takes the network's reason, and so does every
// endpoint that was not ok.
func (k *Keys) MarkInconclusive(reason string) {
	for i := range k.Endpoints {
		if nettests.GateURL(k.Endpoints[i].Verdict, reason) != "" {
			k.Endpoints[i].Verdict, k.Endpoints[i].Method = VerdictInconclusive, nil
		}
	}
	if nettests.GateURL(k.Verdict, reason) == "" {
		return
	}
	k.Set(Verdict{Verdict: VerdictInconclusive, Reason: reason})
}

// EmptyEvents are the event lists of a measurement that sent nothing: empty
// lists rather than nulls, as OONI's readers expect.
func EmptyEvents() netx.Events {
	return netx.Events{Queries: []netx.DNSQueryEvent{}, TCPConnect: []netx.TCPConnectEvent{}, TLSHandshakes: []netx.TLSHandshakeEvent{},
		QUICHandshakes: []netx.TLSHandshakeEvent{}, Requests: []netx.RequestEvent{}, NetworkEvents: []netx.NetworkEvent{}}
}

// Skipped is the keys of a service not measured because the network was down.
func Skipped(reason string) Keys {
	k := Keys{}
	k.Set(Verdict{Verdict: VerdictInconclusive, Reason: reason})
	return k
}
