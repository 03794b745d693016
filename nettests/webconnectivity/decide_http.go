package webconnectivity

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/vantage-probe/vantage/nettests"
)

// http judges the fetch: a failure after clean TCP and TLS, a blockpage, or a page
// that differs from the control's.
func (d *decider) http() *Decision {
	h := d.o.HTTP
	if h == nil {
		return nil
	}
	// A try whose connect or handshake failed is TCP or TLS evidence, judged by
	// those stages (which, having let the URL through, saw some connect and
	// handshake work: intermittent at worst).
	tries := h.Attempts.without(transportFailed(h.FailedPhase))
	if len(tries) == 0 {
		return nil
	}
	if tries.AllFailed() {
		ev := attemptEvidence("http", tries)
		switch {
		case d.ctl == nil:
			return d.noControl(ev)
		case d.ctl.HTTPRequest.Failure != nil:
			ev.ControlFailure = *d.ctl.HTTPRequest.Failure
			return down(ev)
		}
		return blocked(nettests.MethodHTTPFailure, ev)
	}
	if tries.Mixed() {
		d.noteFlaky(nettests.MethodHTTPFailure, "http", tries)
	}
	if isHTTPSURL(h.FinalURL) && d.o.URL != nil && sameSite(finalHost(h.FinalURL), d.o.URL.Hostname()) {
		// A page served over a validated TLS session of the site is the site's
		// own, whatever it says (a 451 or a legal notice from the site itself is
		// not censorship). A redirect to another site's https page is judged below.
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
	if why := d.redirectedAway(h); why != "" {
		// Whatever the comparison says (a warning page may be as long as the
		// site's): the user was sent to another site than the control was.
		ev := attemptEvidence("http", h.Attempts)
		ev.Detail = why
		return blocked(nettests.MethodHTTPDiff, ev)
	}
	if isHTTPSURL(h.FinalURL) {
		return nil // another site's validated page that the control also reached
	}
	if cmp.Differs() {
		diff := fmt.Sprintf("status %d vs control %d, body %d vs %d bytes, title %q vs %q, uncommon headers %v",
			h.StatusCode, d.ctl.HTTPRequest.StatusCode, h.BodyLength, d.ctl.HTTPRequest.BodyLength, h.Title, d.ctl.HTTPRequest.Title, uncommonNames(h.Header))
		why := d.diffCorroboration(h)
		if why == "" {
			// Differs, but nothing a censor's page shows and an audience
			// difference does not: the page is the site's (decide_diff.go).
			d.result.Evidence.Detail = "differs from the control (" + diff + ") with nothing to corroborate blocking: content that varies by audience or by load"
			return nil
		}
		ev := attemptEvidence("http", h.Attempts)
		ev.Detail = diff + "; " + why
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

// quic judges HTTP/3 where the site speaks it.
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

// transportFailed marks the tries that failed in the connect or handshake phase.
func transportFailed(phases []string) []bool {
	out := make([]bool, len(phases))
	for i, p := range phases {
		out[i] = p == opConnect || p == opTLSHandshake
	}
	return out
}
