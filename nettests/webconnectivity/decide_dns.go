package webconnectivity

import (
	"fmt"
	"net/netip"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
	"github.com/vantage-probe/vantage/probe/netx"
)

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

// controlResolved reports whether the control resolved the name to addresses.
func (d *decider) controlResolved() bool {
	return d.ctl != nil && d.ctl.DNS.Failure == nil && len(d.ctl.DNS.Addrs) > 0
}

// dns judges the lookups: injection, bogons, failures, then consistency.
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

// dnsFailed judges a lookup that never returned addresses.
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
