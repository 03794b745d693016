package netx

import "unicode/utf8"

// MaxRecordedResponseBytes bounds the response bytes, bodies and header lines, that
// one Trace keeps over all its requests events (a header line counts twice: it is
// written in headers_list and in headers). Each response is capped already
// (DefaultMaxBodyBytes, DefaultMaxHeaderBytes), but a measurement retries and follows
// redirects: ten redirects each carrying a 1 MiB body of '<' made one measurement
// 66 MiB, because JSON escapes '<' as six bytes, and a collector refuses for good a
// line over 16 MiB (report/collector.MaxLineBytes). 1.5 MiB, even six-fold, leaves
// room for the rest of the measurement under that line limit, and still keeps a page
// at the default body cap whole, plus the smaller responses around it
// (docs/security.md).
const MaxRecordedResponseBytes = 3 << 19

// fitResponse trims r to what is left of the trace's response budget: the body is
// cut at a character boundary and flagged body_is_truncated, then header lines that
// no longer fit are dropped. XBodyLength and XBodySHA256 still describe the whole
// body read. Called with t.mu held.
func (t *Trace) fitResponse(r *HTTPResponse) {
	left := max(MaxRecordedResponseBytes-t.responseBytes, 0)
	if body := string(r.Body); len(body) > left {
		cut := left
		for cut > 0 && !utf8.RuneStart(body[cut]) {
			cut--
		}
		r.Body, r.BodyIsTruncated = MaybeBinary(body[:cut]), true
	}
	used := len(r.Body)
	kept := make([]HTTPHeader, 0, len(r.HeadersList))
	for _, h := range r.HeadersList {
		if n := 2 * (len(h[0]) + len(h[1])); used+n <= left {
			kept, used = append(kept, h), used+n
		}
	}
	if len(kept) < len(r.HeadersList) {
		r.HeadersList = kept
		r.Headers = make(map[string]MaybeBinary, len(kept))
		for _, h := range kept {
			if _, ok := r.Headers[string(h[0])]; !ok {
				r.Headers[string(h[0])] = h[1]
			}
		}
	}
	t.responseBytes += used
}

// MaxRecordedCertificateBytes bounds the peer certificate bytes that one Trace keeps
// over all its handshake events. A certificate message may be 256 KiB (crypto/tls and
// utls refuse more), a measurement makes a few dozen handshakes (addresses, tries,
// the SNI swap), and base64 adds a third: a server sending maximal chains every time
// could otherwise push a measurement past a collector's 16 MiB line limit. One MiB
// holds dozens of real chains (a few KiB each). A chain that does not fit is left out
// whole, since part of a chain would mislead; the event's x_leaf_* and x_root_issuer
// summaries, taken from the chain before, stay.
const MaxRecordedCertificateBytes = 1 << 20

// fitChain drops ev's certificates when they do not fit in what is left of the
// trace's certificate budget. Called with t.mu held.
func (t *Trace) fitChain(ev *TLSHandshakeEvent) {
	n := 0
	for _, c := range ev.PeerCertificates {
		n += len(c.Data)
	}
	if t.certificateBytes+n > MaxRecordedCertificateBytes {
		ev.PeerCertificates = []PeerCertificate{}
		return
	}
	t.certificateBytes += n
}
