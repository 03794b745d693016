package service

import "github.com/vantage-probe/vantage/nettests"

// Keys are the vantage keys every service nettest carries beside OONI's: the
// service verdict, what is blocked, and every endpoint with its verdict.
type Keys struct {
	Verdict string `json:"verdict"`
	// Blocked says what is blocked and how ("chat endpoints: tcp.timeout"); null
	// unless blocked or degraded.
	Blocked *string `json:"blocked_endpoints"`
	// Methods are the methods of the blocked endpoints, sorted.
	Methods []string `json:"methods"`
	// Reason says why the verdict is inconclusive; null otherwise.
	Reason    *string    `json:"reason"`
	Endpoints []Endpoint `json:"endpoints"`
}

var _ nettests.ServiceResult = (*Keys)(nil)

// Set stores a decided verdict.
func (k *Keys) Set(v Verdict) {
	k.Verdict, k.Blocked, k.Reason, k.Methods = v.Verdict, nil, nil, v.Methods
	if k.Methods == nil {
		k.Methods = []string{}
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

// Skipped is the keys of a service not measured because the network was down.
func Skipped(reason string) Keys {
	k := Keys{}
	k.Set(Verdict{Verdict: VerdictInconclusive, Reason: reason})
	return k
}
