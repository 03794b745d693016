package webconnectivity

import (
	"encoding/json"
	"strings"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/report"
)

// TestKeys are web_connectivity's test_keys: OONI's event lists and summary keys
// (blocking, accessible, dns_consistency, the HTTP comparison), plus vantage's
// verdict, method, reason and evidence.
type TestKeys struct {
	netx.Events

	Agent          string `json:"agent"`
	ClientResolver string `json:"client_resolver"`
	Retries        int    `json:"retries"`
	// XStepTimeout is the per-step budget (seconds) this URL was measured with.
	XStepTimeout float64 `json:"x_step_timeout"`

	ControlFailure *string           `json:"control_failure"`
	Control        *thproto.Response `json:"control"`
	XControlHelper string            `json:"x_control_helper,omitempty"`
	XSecondDNS     *SecondDNSResult  `json:"x_second_resolver,omitempty"`
	XQUICAttempted bool              `json:"x_quic_attempted"`
	// XOtherFindings are what other ports of the URL's host showed (TLS on 443 for
	// an http:// URL): evidence, not the URL's verdict.
	XOtherFindings []OtherFinding `json:"x_other_findings,omitempty"`
	// XCanaryLoss is the canaries' loss the URL's timeouts were weighed against.
	XCanaryLoss   *LossSample          `json:"x_canary_loss,omitempty"`
	XObservations *ObservationsSummary `json:"x_observations,omitempty"`

	DNSExperimentFailure  *string `json:"dns_experiment_failure"`
	DNSConsistency        *string `json:"dns_consistency"`
	HTTPExperimentFailure *string `json:"http_experiment_failure"`
	HTTPComparison

	// Blocking is false, a string ("dns", "tcp_ip", "http-failure", "http-diff",
	// "quic") or null; Accessible is true, false or null: OONI's keys, kept
	// consistent with the verdict (see blockingFor).
	Blocking   any   `json:"blocking"`
	Accessible *bool `json:"accessible"`

	Verdict  string    `json:"verdict"`
	Method   *string   `json:"method"`
	Reason   *string   `json:"reason"`
	Evidence *Evidence `json:"evidence"`

	// scrub lists addresses (the probe's public IP as the helper saw it) removed
	// from every string of the encoded keys.
	scrub []string
}

// SecondDNSResult is what the second resolver path answered.
type SecondDNSResult struct {
	Resolver string   `json:"resolver"`
	Failure  *string  `json:"failure"`
	Addrs    []string `json:"addrs"`
	Injected bool     `json:"injected"`
}

// ObservationsSummary records the tries behind the verdict, per step, so a reader
// can check the retries and the SNI swap without replaying the events.
type ObservationsSummary struct {
	DNS       Attempts            `json:"dns"`
	Endpoints []EndpointSummary   `json:"endpoints"`
	HTTP      Attempts            `json:"http"`
	QUIC      map[string]Attempts `json:"quic,omitempty"`
}

// EndpointSummary is one endpoint's tries.
type EndpointSummary struct {
	Address string   `json:"address"`
	TCP     Attempts `json:"tcp"`
	// OtherConnects and OtherTLS are the connects and handshakes other steps (TLS
	// retries, the benign SNI, the fetch) made here: TCP and TLS evidence too.
	OtherConnects Attempts `json:"other_connects,omitempty"`
	TLS           Attempts `json:"tls,omitempty"`
	OtherTLS      Attempts `json:"other_tls,omitempty"`
	BenignSNI     string   `json:"benign_sni,omitempty"`
	Benign        Attempts `json:"benign,omitempty"`
}

var _ nettests.URLResult = (*TestKeys)(nil)

// ControlReached reports whether a control helper answered for this URL (the
// runner's URL-phase evidence: a censor blocks URLs, the network going away takes
// the helper too).
func (tk *TestKeys) ControlReached() bool { return tk.Control != nil }

// URLVerdict implements nettests.URLResult.
func (tk *TestKeys) URLVerdict() (verdict, method string) {
	if tk.Method != nil {
		method = *tk.Method
	}
	return tk.Verdict, method
}

// MarkInconclusive implements nettests.URLResult: the runner calls it when the
// network verdict makes this URL's verdict meaningless.
func (tk *TestKeys) MarkInconclusive(reason string) {
	tk.Verdict = nettests.VerdictInconclusive
	tk.Method = nil
	tk.Reason = &reason
	tk.Blocking, tk.Accessible = nil, nil
}

// MarshalJSON encodes the keys with the probe's address scrubbed from every string.
func (tk *TestKeys) MarshalJSON() ([]byte, error) {
	type plain TestKeys // no methods: no recursion
	b, err := json.Marshal((*plain)(tk))
	if err != nil {
		return nil, err
	}
	return report.ScrubAddresses(b, tk.scrub...), nil
}

// SkippedTestKeys builds the keys of a URL the runner did not measure (the network
// verdict was full_shutdown or local_failure): inconclusive, with reason.
func SkippedTestKeys(url, reason string) *TestKeys {
	if reason == "" {
		reason = ReasonSkipped
	}
	tk := newTestKeys()
	tk.Evidence = &Evidence{Detail: "not measured: " + reason + " (" + netx.Scrub(url) + ")"}
	tk.MarkInconclusive(reason)
	return tk
}

func newTestKeys() *TestKeys {
	return &TestKeys{
		Events: netx.Events{
			Queries: []netx.DNSQueryEvent{}, TCPConnect: []netx.TCPConnectEvent{},
			TLSHandshakes: []netx.TLSHandshakeEvent{}, QUICHandshakes: []netx.TLSHandshakeEvent{},
			Requests: []netx.RequestEvent{}, NetworkEvents: []netx.NetworkEvent{},
		},
		Agent:          "redirect",
		ClientResolver: report.ScrubbedIP,
		Verdict:        nettests.VerdictInconclusive,
	}
}

// blockingFor maps a decision onto OONI's blocking and accessible keys (ts-017):
// ok → false/true; down → false/false; a DNS, TCP, TLS or HTTP method → "dns",
// "tcp_ip", "http-failure" or "http-diff" with accessible false; inconclusive →
// null/null. quic.blocked and throttled have no OONI value: blocking "quic" or
// "throttled" (OONI tooling reads any string as an anomaly) with accessible true,
// since the page loads.
func blockingFor(d Decision) (any, *bool) {
	switch d.Verdict {
	case nettests.VerdictOK:
		return false, boolPtr(true)
	case nettests.VerdictDown:
		return false, boolPtr(false)
	case nettests.VerdictBlocked, nettests.VerdictIntermittent:
		switch {
		case strings.HasPrefix(d.Method, "dns."):
			return "dns", boolPtr(false)
		case strings.HasPrefix(d.Method, "tcp."):
			return "tcp_ip", boolPtr(false)
		case strings.HasPrefix(d.Method, "tls."), d.Method == nettests.MethodHTTPFailure:
			return "http-failure", boolPtr(false)
		case d.Method == nettests.MethodHTTPDiff, d.Method == nettests.MethodHTTPBlockpage:
			return "http-diff", boolPtr(false)
		case d.Method == nettests.MethodQUICBlocked:
			return "quic", boolPtr(true)
		}
	case nettests.VerdictThrottled:
		return "throttled", boolPtr(true)
	}
	return nil, nil
}

// applyDecision fills the summary keys from a decision.
func (tk *TestKeys) applyDecision(d Decision) {
	tk.Verdict = d.Verdict
	tk.Method, tk.Reason = nil, nil
	if d.Method != "" {
		m := d.Method
		tk.Method = &m
	}
	if d.Reason != "" {
		r := d.Reason
		tk.Reason = &r
	}
	ev := d.Evidence
	tk.Evidence = &ev
	if d.DNSConsistency != "" {
		c := d.DNSConsistency
		tk.DNSConsistency = &c
	}
	if d.HTTP != nil {
		tk.HTTPComparison = *d.HTTP
	}
	tk.Blocking, tk.Accessible = blockingFor(d)
	tk.XOtherFindings = d.OtherFindings
}
