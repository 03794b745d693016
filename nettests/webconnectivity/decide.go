package webconnectivity

import (
	"strings"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
)

// Reasons for an inconclusive verdict that only this nettest gives (the shared ones
// are in package nettests).
const (
	// ReasonControlFailed: the control answered but could not fetch the page itself,
	// so a page the probe got cannot be compared.
	ReasonControlFailed = "control_failed"
	// ReasonPartialShutdown: the failures were consistent but canaries did not answer
	// in the same window, so they may be the network's rather than the site's.
	ReasonPartialShutdown = "partial_shutdown"
	// ReasonSkipped: the runner did not measure the URL.
	ReasonSkipped = "skipped"
	// ReasonInterrupted: the run was cancelled while the URL was measured.
	ReasonInterrupted = "interrupted"
	// ReasonNoIPv6: every address was IPv6 and this host has no IPv6 route.
	ReasonNoIPv6 = "no_ipv6"
)

// Evidence is the detail behind a verdict: which step, which failure, how many tries,
// and what matched.
type Evidence struct {
	Step             string            `json:"step,omitempty"` // dns, tcp, tls, http, quic
	Failure          string            `json:"failure,omitempty"`
	Attempts         int               `json:"attempts,omitempty"`
	Failures         int               `json:"failures,omitempty"`
	Addresses        []string          `json:"addresses,omitempty"`
	ControlAddresses []string          `json:"control_addresses,omitempty"`
	ControlFailure   string            `json:"control_failure,omitempty"`
	Fingerprint      *FingerprintMatch `json:"fingerprint,omitempty"`
	Issuer           string            `json:"issuer,omitempty"`
	BenignSNI        string            `json:"benign_sni,omitempty"`
	BenignSNIWorked  *bool             `json:"benign_sni_worked,omitempty"`
	CanariesUp       *bool             `json:"canaries_up,omitempty"`
	Detail           string            `json:"detail,omitempty"`
}

// Decision is Decide's output.
type Decision struct {
	Verdict        string
	Method         string // set when blocked or intermittent
	Reason         string // set when inconclusive
	Evidence       Evidence
	DNSConsistency string // "consistent", "inconsistent" or "" (not computed)
	HTTP           *HTTPComparison
	// OtherFindings are what other ports of the host showed (x_other_findings).
	OtherFindings []OtherFinding
	// wantsLossSample: the verdict is intermittent on timeouts alone, and no
	// canary loss was sampled to weigh them against (the measurer samples, then
	// decides again).
	wantsLossSample bool
}

// stage is one step's verdict while deciding: done means the decision is final;
// otherwise flaky (when set) records mixed outcomes to report if nothing worse shows.
type stage struct {
	decision *Decision
	flaky    *Decision
}

// decider carries the state of one Decide call.
type decider struct {
	o      *Observations
	fp     *Fingerprints
	ctl    *thproto.Response
	result Decision
	flaky  *Decision
	// explained are the mixed stages the network's loss accounts for.
	explained []string
}

// Decide turns observations into a verdict. It is a pure function of its inputs:
// every rule, threshold and reason is documented in docs/methodology.md. Stages are
// taken in the order the traffic flows (DNS, TCP, TLS, HTTP, QUIC); the first stage
// that proves blocking, or that the site is down, decides. Mixed outcomes at a stage
// make the URL intermittent unless a later stage shows more.
func Decide(o *Observations, fp *Fingerprints) Decision {
	if fp == nil {
		fp = DefaultFingerprints()
	}
	d := &decider{o: o, fp: fp, ctl: o.Control}
	out := d.run()
	out.OtherFindings = d.otherPortFindings()
	return applyNetwork(o, out)
}

func (d *decider) run() Decision {
	for _, step := range []func() *Decision{d.dns, d.tcp, d.tls, d.http, d.quic, d.throttle} {
		if dec := step(); dec != nil {
			dec.DNSConsistency = d.result.DNSConsistency
			dec.HTTP = d.result.HTTP
			return *dec
		}
	}
	if d.flaky != nil {
		d.flaky.DNSConsistency, d.flaky.HTTP = d.result.DNSConsistency, d.result.HTTP
		return *d.flaky
	}
	d.result.Verdict = nettests.VerdictOK
	if len(d.explained) > 0 {
		notes := append([]string{}, d.explained...)
		if d.result.Evidence.Detail != "" {
			notes = append([]string{d.result.Evidence.Detail}, notes...)
		}
		d.result.Evidence.Detail = strings.Join(notes, "; ")
	}
	return d.result
}

// noteFlaky remembers the first stage with mixed outcomes, unless the canaries'
// loss in the same window explains them (decide_loss.go). A stage whose mixed
// tries all timed out and were not weighed yet asks for a loss sample.
func (d *decider) noteFlaky(method, step string, a Attempts) {
	if d.flaky != nil {
		return
	}
	if why, ok := lossExplains(a, d.o.CanaryLoss); ok {
		d.explained = append(d.explained, step+": "+why)
		return
	}
	d.flaky = &Decision{Verdict: nettests.VerdictIntermittent, Method: method, Evidence: attemptEvidence(step, a)}
	d.flaky.wantsLossSample = d.o.CanaryLoss == nil && timeoutsOnly(a)
}

func attemptEvidence(step string, a Attempts) Evidence {
	return Evidence{Step: step, Failure: a.Failure(), Attempts: len(a), Failures: len(a) - a.Successes()}
}

func blocked(method string, ev Evidence) *Decision {
	return &Decision{Verdict: nettests.VerdictBlocked, Method: method, Evidence: ev}
}

func down(ev Evidence) *Decision { return &Decision{Verdict: nettests.VerdictDown, Evidence: ev} }

func inconclusive(reason string, ev Evidence) *Decision {
	return &Decision{Verdict: nettests.VerdictInconclusive, Reason: reason, Evidence: ev}
}

// noControl is the verdict when a stage fails and no helper answered: local evidence
// was not conclusive.
func (d *decider) noControl(ev Evidence) *Decision {
	if d.o.ControlErr != "" {
		ev.ControlFailure = d.o.ControlErr
	}
	return inconclusive(nettests.ReasonNoControl, ev)
}

// applyNetwork tempers a verdict with what the runner knows of the network. Under
// partial_shutdown a URL is blocked only when canaries answered in the window of its
// retries (DESIGN.md); under full_shutdown or local_failure nothing is blocked.
func applyNetwork(o *Observations, d Decision) Decision {
	if reason := nettests.GateURL(d.Verdict, nettests.NetworkDownReason(o.NetworkVerdict)); reason != "" {
		d.Verdict, d.Method, d.Reason = nettests.VerdictInconclusive, "", reason
		return d
	}
	switch o.NetworkVerdict {
	case nettests.NetworkPartialShutdown:
		if d.Verdict != nettests.VerdictBlocked && d.Verdict != nettests.VerdictIntermittent {
			return d
		}
		d.Evidence.CanariesUp = o.Canaries
		if o.Canaries == nil || !*o.Canaries {
			d.Verdict, d.Method, d.Reason = nettests.VerdictInconclusive, "", ReasonPartialShutdown
		}
	}
	return d
}
