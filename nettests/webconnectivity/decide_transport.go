package webconnectivity

import (
	"net/netip"
	"slices"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
	"github.com/vantage-probe/vantage/probe/netx"
)

// tcpMethod maps a connect failure to a method.
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

// tcp judges the connects on the URL's port.
func (d *decider) tcp() *Decision {
	eps, noRoute := withoutUnroutedIPv6(d.o.primary())
	if len(eps) == 0 {
		if noRoute {
			ev := Evidence{Step: "tcp", Failure: netx.FailureNetworkUnreachable, Detail: "every address is IPv6 and this host has no IPv6 route"}
			return inconclusive(ReasonNoIPv6, ev)
		}
		return nil
	}
	var all Attempts
	anyClean, anyWorked := false, false
	for _, ep := range eps {
		// A connect is TCP evidence whichever step made it (a TLS retry, the fetch).
		connects := append(slices.Clone(ep.TCP), ep.OtherConnects...)
		all = append(all, connects...)
		anyWorked = anyWorked || connects.Successes() > 0
		anyClean = anyClean || (len(connects) > 0 && !connects.AllFailed() && !connects.Mixed())
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

// tlsMethod maps a handshake failure to a method.
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

// isCertFailure reports a completed handshake whose chain does not validate.
func isCertFailure(f string) bool {
	switch f {
	case netx.FailureSSLUnknownAuthority, netx.FailureSSLInvalidHostname, netx.FailureSSLInvalidCertificate:
		return true
	}
	return false
}

// tls judges the handshakes with the URL's name.
func (d *decider) tls() *Decision {
	if dec := d.interceptor(); dec != nil {
		return dec
	}
	if !d.o.isHTTPS() {
		return nil // TLS on 443 of an http:// URL only validates addresses
	}
	var tried []*EndpointObservation
	var all Attempts
	anyWorked, anyClean := false, false
	for _, ep := range d.o.primary() {
		if ep.TLS == nil {
			continue
		}
		// A retry whose fresh connect failed says nothing of TLS: the TCP stage
		// judged it.
		// The fetch's handshakes with this endpoint count as well.
		hs := append(ep.TLS.Attempts.without(ep.TLS.ConnectFailed), ep.TLS.OtherHandshakes...)
		if len(hs) == 0 {
			continue
		}
		tried = append(tried, ep)
		all = append(all, hs...)
		anyWorked = anyWorked || hs.Successes() > 0
		anyClean = anyClean || (!hs.AllFailed() && !hs.Mixed())
	}
	if len(tried) == 0 {
		return nil
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

// interceptor looks for a known interceptor's name in any chain the probe received
// on a port the URL's load crosses:
// conclusive without a control, whatever the validation said (a volunteer may have
// installed the state root, as Kazakhstan asked in 2019).
func (d *decider) interceptor() *Decision {
	for i := range d.o.Endpoints {
		ep := &d.o.Endpoints[i]
		if ep.TLS == nil || len(ep.TLS.Chain) == 0 || !d.judgedPort(ep) {
			continue // another port's interceptor is an other finding (decide_ports.go)
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

// withoutUnroutedIPv6 drops IPv6 endpoints whose every connect failed with network
// unreachable: the host has no IPv6 route, which says nothing about the site (OONI
// excludes them too, detection-methods §5.2). It reports whether any was dropped.
func withoutUnroutedIPv6(eps []*EndpointObservation) ([]*EndpointObservation, bool) {
	var out []*EndpointObservation
	dropped := false
	for _, ep := range eps {
		ip, err := netip.ParseAddr(ep.IP())
		unrouted := ep.TCP.AllFailed() && ep.TCP.Failure() == netx.FailureNetworkUnreachable
		for _, f := range ep.TCP {
			unrouted = unrouted && f == netx.FailureNetworkUnreachable
		}
		if err == nil && ip.Is6() && !ip.Is4In6() && unrouted {
			dropped = true
			continue
		}
		out = append(out, ep)
	}
	return out, dropped
}
