package webconnectivity

import (
	"fmt"
	"net/http"
	"net/netip"
	"sort"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
	"github.com/vantage-probe/vantage/probe/netx"
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
	return applyNetwork(o, out)
}

func (d *decider) run() Decision {
	for _, step := range []func() *Decision{d.dns, d.tcp, d.tls, d.http, d.quic} {
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
	return d.result
}

// noteFlaky remembers the first stage with mixed outcomes.
func (d *decider) noteFlaky(method, step string, a Attempts) {
	if d.flaky == nil {
		d.flaky = &Decision{Verdict: nettests.VerdictIntermittent, Method: method, Evidence: attemptEvidence(step, a)}
	}
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

// dnsMethod maps a resolver failure to a method.
func dnsMethod(failure string) string {
	switch failure {
	case netx.FailureDNSNXDOMAIN, netx.FailureDNSNoAnswer:
		return nettests.MethodDNSNXDOMAIN
	case netx.FailureGenericTimeout:
		return nettests.MethodDNSTimeout
	default:
		return nettests.MethodDNSFailure
	}
}

func (d *decider) controlResolved() bool {
	return d.ctl != nil && d.ctl.DNS.Failure == nil && len(d.ctl.DNS.Addrs) > 0
}

func (d *decider) dns() *Decision {
	o := d.o
	if o.HostIsIP {
		return nil
	}
	for _, obs := range []*DNSObservation{&o.DNS, o.SecondDNS} {
		if obs != nil && obs.Injected {
			ev := attemptEvidence("dns", obs.Attempts)
			ev.Addresses, ev.Detail = obs.Addrs, "two replies to one query via "+obs.Resolver+" carried different answers"
			return blocked(nettests.MethodDNSInjection, ev)
		}
	}
	if bogons := d.unexplainedBogons(); len(bogons) > 0 {
		ev := attemptEvidence("dns", o.DNS.Attempts)
		ev.Addresses = bogons
		if d.ctl != nil {
			ev.ControlAddresses = d.ctl.DNS.Addrs
		}
		return blocked(nettests.MethodDNSBogon, ev)
	}
	a := o.DNS.Attempts
	if a.AllFailed() || (a.Successes() > 0 && len(o.DNS.Addrs) == 0) {
		return d.dnsFailed()
	}
	if a.Mixed() && d.controlResolved() {
		d.noteFlaky(dnsMethod(a.Failure()), "dns", a)
	}
	return d.dnsConsistency()
}

// unexplainedBogons returns the bogon answers of the system resolver that the
// control's answers do not explain. A bogon is explained when the control got an
// address of the same class (unspecified, loopback, other non-public): a name that
// really lives in a private network (an intranet, a lab, polito.it's RFC 1918
// answer noted by OONI) resolves so for the control too. The public helper drops
// non-public answers, so against it every bogon is evidence.
func (d *decider) unexplainedBogons() []string {
	ctlClasses := map[string]bool{}
	if d.ctl != nil {
		for _, a := range d.ctl.DNS.Addrs {
			ctlClasses[bogonClass(a)] = true
		}
	}
	var out []string
	for _, a := range d.o.DNS.Addrs {
		c := bogonClass(a)
		if d.o.LabPrivate && c != "unspecified" {
			c = ""
		}
		if c != "" && !ctlClasses[c] {
			out = append(out, a)
		}
	}
	return out
}

// bogonClass returns "unspecified", "loopback" or "private" for a non-public address
// and "" for a public one.
func bogonClass(addr string) string {
	ip, err := netip.ParseAddr(addr)
	switch {
	case err != nil:
		return "private"
	case ip.Unmap().IsUnspecified() || (ip.Is4() && ip.As4()[0] == 0):
		return "unspecified"
	case ip.Unmap().IsLoopback():
		return "loopback"
	case thproto.IsBogon(addr):
		return "private"
	}
	return ""
}

func (d *decider) dnsFailed() *Decision {
	a := d.o.DNS.Attempts
	ev := attemptEvidence("dns", a)
	if ev.Failure == "" {
		ev.Failure = netx.FailureDNSNoAnswer
	}
	if s := d.o.SecondDNS; s != nil && s.Attempts.Successes() > 0 && len(s.Addrs) > 0 {
		ev.Detail = fmt.Sprintf("the second resolver %s answered %v", s.Resolver, s.Addrs)
	}
	switch {
	case d.ctl == nil:
		return d.noControl(ev)
	case !d.controlResolved():
		if d.ctl.DNS.Failure != nil {
			ev.ControlFailure = *d.ctl.DNS.Failure
		}
		return down(ev)
	}
	ev.ControlAddresses = d.ctl.DNS.Addrs
	d.result.DNSConsistency = "inconsistent"
	return blocked(dnsMethod(ev.Failure), ev)
}

// dnsConsistency applies OONI v0.5's rule: an answer is legitimate when the control
// got it too, when its ASN is one of the control's, or when a TLS handshake for the
// name validated on it (the CDN case: ooni/probe#2235).
func (d *decider) dnsConsistency() *Decision {
	if !d.controlResolved() {
		return nil
	}
	ctlAddrs, ctlASNs := map[string]bool{}, map[int64]bool{}
	for _, a := range d.ctl.DNS.Addrs {
		ctlAddrs[a] = true
		if info, ok := d.ctl.IPInfo[a]; ok && info.ASN != 0 {
			ctlASNs[info.ASN] = true
		}
	}
	validated := d.o.validatedIPs()
	var unexplained []string
	for _, a := range d.o.DNS.Addrs {
		info := d.ctl.IPInfo[a]
		if ctlAddrs[a] || (info.ASN != 0 && ctlASNs[info.ASN]) || validated[a] || info.Flags&thproto.FlagValidForDomain != 0 {
			continue
		}
		unexplained = append(unexplained, a)
	}
	if len(unexplained) == 0 {
		d.result.DNSConsistency = "consistent"
		return nil
	}
	d.result.DNSConsistency = "inconsistent"
	ev := attemptEvidence("dns", d.o.DNS.Attempts)
	ev.Addresses, ev.ControlAddresses = unexplained, d.ctl.DNS.Addrs
	ev.Detail = "answers outside the control's set, in no control ASN, and no TLS handshake for the name validated on them"
	return blocked(nettests.MethodDNSInconsistent, ev)
}

func tcpMethod(failure string) string {
	switch failure {
	case netx.FailureGenericTimeout:
		return nettests.MethodTCPTimeout
	case netx.FailureConnectionReset, netx.FailureConnectionRefused, netx.FailureConnectionAborted:
		return nettests.MethodTCPReset
	default:
		return nettests.MethodTCPUnreachable
	}
}

func (d *decider) tcp() *Decision {
	eps := d.o.primary()
	if len(eps) == 0 {
		return nil
	}
	var all Attempts
	anyClean, anyWorked := false, false
	for _, ep := range eps {
		all = append(all, ep.TCP...)
		anyWorked = anyWorked || ep.TCP.Successes() > 0
		anyClean = anyClean || (len(ep.TCP) > 0 && !ep.TCP.AllFailed() && !ep.TCP.Mixed())
	}
	if anyWorked {
		if !anyClean {
			d.noteFlaky(tcpMethod(all.Failure()), "tcp", all)
		}
		return nil
	}
	ev := attemptEvidence("tcp", all)
	for _, ep := range eps {
		ev.Addresses = append(ev.Addresses, ep.Address)
	}
	if d.ctl == nil {
		return d.noControl(ev)
	}
	ctlWorked, ctlTried := false, false
	for _, ep := range eps {
		if r, ok := d.ctl.TCPConnect[ep.Address]; ok && (r.Failure == nil || *r.Failure != thproto.FailurePrivateRefused) {
			ctlTried = true
			ctlWorked = ctlWorked || r.Status
		}
	}
	if !ctlTried {
		// The control did not connect to these endpoints: its fetch tells whether
		// the site answers at all.
		ctlWorked = d.ctl.HTTPRequest.Failure == nil && d.ctl.HTTPRequest.StatusCode > 0
	}
	if !ctlWorked {
		ev.Detail = "the control could not connect either"
		return down(ev)
	}
	return blocked(tcpMethod(ev.Failure), ev)
}

func tlsMethod(failure string) string {
	switch failure {
	case netx.FailureGenericTimeout:
		return nettests.MethodTLSTimeout
	case netx.FailureEOF:
		return nettests.MethodTLSEOF
	default:
		// connection_reset, and any other abnormal end (an alert, a garbled reply):
		// the connection was torn down by something other than a normal answer.
		return nettests.MethodTLSReset
	}
}

func isCertFailure(f string) bool {
	switch f {
	case netx.FailureSSLUnknownAuthority, netx.FailureSSLInvalidHostname, netx.FailureSSLInvalidCertificate:
		return true
	}
	return false
}

func (d *decider) tls() *Decision {
	if dec := d.interceptor(); dec != nil {
		return dec
	}
	if !d.o.isHTTPS() {
		return nil // TLS on 443 of an http:// URL only validates addresses
	}
	var tried []*EndpointObservation
	for _, ep := range d.o.primary() {
		if ep.TLS != nil && len(ep.TLS.Attempts) > 0 {
			tried = append(tried, ep)
		}
	}
	if len(tried) == 0 {
		return nil
	}
	var all Attempts
	anyWorked, anyClean := false, false
	for _, ep := range tried {
		all = append(all, ep.TLS.Attempts...)
		anyWorked = anyWorked || ep.TLS.Attempts.Successes() > 0
		anyClean = anyClean || (!ep.TLS.Attempts.AllFailed() && !ep.TLS.Attempts.Mixed())
	}
	if anyWorked {
		if !anyClean {
			d.noteFlaky(tlsMethod(all.Failure()), "tls", all)
		}
		return nil
	}
	if isCertFailure(all.Failure()) {
		return d.tlsUnverified(tried, all)
	}
	return d.tlsFailed(tried, all)
}

// interceptor looks for a known interceptor's name in any chain the probe received:
// conclusive without a control, whatever the validation said (a volunteer may have
// installed the state root, as Kazakhstan asked in 2019).
func (d *decider) interceptor() *Decision {
	for i := range d.o.Endpoints {
		ep := &d.o.Endpoints[i]
		if ep.TLS == nil || len(ep.TLS.Chain) == 0 {
			continue
		}
		if m, issuer := d.fp.MatchInterceptor(ep.TLS.Chain); m != nil {
			ev := attemptEvidence("tls", ep.TLS.Attempts)
			ev.Addresses, ev.Fingerprint, ev.Issuer = []string{ep.Address}, m, issuer
			return blocked(nettests.MethodTLSMITM, ev)
		}
	}
	return nil
}

// controlTLS reports whether the control's handshake with any of the endpoints (or,
// if it tried none of them, its own fetch) worked, and whether it tried at all.
func (d *decider) controlTLS(eps []*EndpointObservation) (worked, known bool) {
	for _, ep := range eps {
		if r, ok := d.ctl.TLSHandshake[ep.Address]; ok {
			known = true
			worked = worked || r.Status
		}
	}
	if !known && d.ctl.HTTPRequest.StatusCode > 0 {
		return true, true
	}
	return worked, known
}

func (d *decider) tlsUnverified(eps []*EndpointObservation, all Attempts) *Decision {
	ev := attemptEvidence("tls", all)
	for _, ep := range eps {
		ev.Addresses = append(ev.Addresses, ep.Address)
		if ev.Issuer == "" {
			ev.Issuer = ep.TLS.Issuer
		}
	}
	if d.ctl == nil {
		return d.noControl(ev)
	}
	if worked, _ := d.controlTLS(eps); !worked {
		ev.Detail = "the control's chain does not validate either"
		return down(ev)
	}
	ev.Detail = "the chain the probe received does not validate while the control's does"
	return blocked(nettests.MethodTLSMITM, ev)
}

func (d *decider) tlsFailed(eps []*EndpointObservation, all Attempts) *Decision {
	ev := attemptEvidence("tls", all)
	swapWorked := false
	for _, ep := range eps {
		ev.Addresses = append(ev.Addresses, ep.Address)
		if ep.TLS.BenignSNI != "" {
			ev.BenignSNI = ep.TLS.BenignSNI
			swapWorked = swapWorked || ep.TLS.Benign.Successes() > 0
		}
	}
	if ev.BenignSNI != "" {
		ev.BenignSNIWorked = boolPtr(swapWorked)
	}
	if d.ctl != nil {
		if worked, known := d.controlTLS(eps); known && !worked {
			ev.Detail = "the control's handshake fails too"
			return down(ev)
		}
		return blocked(tlsMethod(ev.Failure), ev)
	}
	if swapWorked {
		ev.Detail = "the same address completes a handshake for the benign SNI"
		return blocked(tlsMethod(ev.Failure), ev)
	}
	return d.noControl(ev)
}

func (d *decider) http() *Decision {
	h := d.o.HTTP
	if h == nil || len(h.Attempts) == 0 {
		return nil
	}
	if h.Attempts.AllFailed() {
		ev := attemptEvidence("http", h.Attempts)
		switch {
		case d.ctl == nil:
			return d.noControl(ev)
		case d.ctl.HTTPRequest.Failure != nil:
			ev.ControlFailure = *d.ctl.HTTPRequest.Failure
			return down(ev)
		}
		return blocked(nettests.MethodHTTPFailure, ev)
	}
	if h.Attempts.Mixed() {
		d.noteFlaky(nettests.MethodHTTPFailure, "http", h.Attempts)
	}
	if isHTTPSURL(h.FinalURL) {
		// A page served over a validated TLS session is the site's own, whatever it
		// says (a 451 or a legal notice from the site itself is not censorship).
		return nil
	}
	if m := d.fp.MatchBlockpage(h.StatusCode, h.Header, h.Body); m != nil {
		ev := attemptEvidence("http", h.Attempts)
		ev.Fingerprint = m
		return blocked(nettests.MethodHTTPBlockpage, ev)
	}
	if d.ctl == nil {
		return d.noControl(attemptEvidence("http", h.Attempts))
	}
	if d.ctl.HTTPRequest.Failure != nil || d.ctl.HTTPRequest.StatusCode <= 0 {
		ev := attemptEvidence("http", h.Attempts)
		if d.ctl.HTTPRequest.Failure != nil {
			ev.ControlFailure = *d.ctl.HTTPRequest.Failure
		}
		return inconclusive(ReasonControlFailed, ev)
	}
	cmp := compareHTTP(h, &d.ctl.HTTPRequest)
	d.result.HTTP = cmp
	if cmp.Differs() {
		ev := attemptEvidence("http", h.Attempts)
		ev.Detail = fmt.Sprintf("status %d vs control %d, body %d vs %d bytes, title %q vs %q, uncommon headers %v",
			h.StatusCode, d.ctl.HTTPRequest.StatusCode, h.BodyLength, d.ctl.HTTPRequest.BodyLength, h.Title, d.ctl.HTTPRequest.Title, uncommonNames(h.Header))
		return blocked(nettests.MethodHTTPDiff, ev)
	}
	return nil
}

func uncommonNames(h http.Header) []string {
	var out []string
	for k := range h {
		if !commonHeaders[lower(k)] {
			out = append(out, lower(k))
		}
	}
	sort.Strings(out)
	return out
}

func (d *decider) quic() *Decision {
	if len(d.o.QUIC) == 0 {
		return nil
	}
	var all Attempts
	for _, q := range d.o.QUIC {
		all = append(all, q.Attempts...)
	}
	switch {
	case all.Successes() > 0:
		if all.Mixed() {
			d.noteFlaky(nettests.MethodQUICBlocked, "quic", all)
		}
		return nil
	case d.ctl == nil:
		return nil // TCP worked: a missing QUIC answer alone proves nothing
	}
	ctlWorked := d.ctl.HTTP3Request != nil && d.ctl.HTTP3Request.Failure == nil && d.ctl.HTTP3Request.StatusCode > 0
	for _, r := range d.ctl.QUICHandshake {
		ctlWorked = ctlWorked || r.Status
	}
	if !ctlWorked {
		return nil // the site's QUIC is broken for the control too; TCP serves it
	}
	ev := attemptEvidence("quic", all)
	for _, q := range d.o.QUIC {
		ev.Addresses = append(ev.Addresses, q.Address)
	}
	return blocked(nettests.MethodQUICBlocked, ev)
}

// applyNetwork tempers a verdict with what the runner knows of the network. Under
// partial_shutdown a URL is blocked only when canaries answered in the window of its
// retries (DESIGN.md); under full_shutdown or local_failure nothing is blocked.
func applyNetwork(o *Observations, d Decision) Decision {
	switch o.NetworkVerdict {
	case nettests.NetworkFullShutdown, nettests.NetworkLocalFailure:
		if d.Verdict != nettests.VerdictOK {
			d.Verdict, d.Method, d.Reason = nettests.VerdictInconclusive, "", o.NetworkVerdict
		}
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
