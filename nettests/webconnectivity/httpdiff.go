package webconnectivity

import (
	"strings"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
)

// bodyProportionThreshold: bodies whose shorter/longer length ratio is at or below
// this differ. OONI's bodyProportionFactor (0.7, strict), which descends from Jones et
// al., IMC 2014: blockpages differ from real pages far more than real pages differ
// from each other (ooni-design.md §2.1, detection-methods.md §3.5).
const bodyProportionThreshold = 0.7

// titleWordMinLen: only title words of at least this many bytes are compared, as
// OONI, so short words ("the", "de") do not decide.
const titleWordMinLen = 5

// commonHeaders are headers almost every server sends; only the others say something
// about which server answered. OONI's list of 25 (ooni-design.md §2.1).
var commonHeaders = map[string]bool{
	"date": true, "content-type": true, "server": true, "cache-control": true, "vary": true,
	"set-cookie": true, "location": true, "expires": true, "x-powered-by": true,
	"content-encoding": true, "last-modified": true, "accept-ranges": true, "pragma": true,
	"x-frame-options": true, "etag": true, "x-content-type-options": true, "age": true,
	"via": true, "p3p": true, "x-xss-protection": true, "content-language": true,
	"cf-ray": true, "strict-transport-security": true, "link": true, "x-varnish": true,
}

// HTTPComparison is the probe's final response compared with the control's, in
// OONI's keys; nil means "could not compare".
type HTTPComparison struct {
	BodyLengthMatch *bool   `json:"body_length_match"`
	BodyProportion  float64 `json:"body_proportion"`
	StatusCodeMatch *bool   `json:"status_code_match"`
	HeadersMatch    *bool   `json:"headers_match"`
	TitleMatch      *bool   `json:"title_match"`
}

// Differs reports OONI v0.5's httpDiff: the response is the site's when the status
// matches and at least one of body length, uncommon headers or title matches.
func (c *HTTPComparison) Differs() bool {
	return !(isTrue(c.StatusCodeMatch) && (isTrue(c.BodyLengthMatch) || isTrue(c.HeadersMatch) || isTrue(c.TitleMatch)))
}

func isTrue(b *bool) bool  { return b != nil && *b }
func boolPtr(b bool) *bool { return &b }

// compareHTTP compares the probe's final response with the control's fetch.
func compareHTTP(p *HTTPObservation, c *thproto.HTTPResult) *HTTPComparison {
	out := &HTTPComparison{}
	if c.BodyLength > 0 && !p.Truncated && p.BodyLength > 0 {
		a, b := float64(p.BodyLength), float64(c.BodyLength)
		out.BodyProportion = min(a, b) / max(a, b)
		out.BodyLengthMatch = boolPtr(out.BodyProportion > bodyProportionThreshold)
	}
	if p.StatusCode > 0 && c.StatusCode > 0 {
		switch {
		case int64(p.StatusCode) == c.StatusCode:
			out.StatusCodeMatch = boolPtr(true)
		case c.StatusCode/100 != 2:
			// The control itself got an error page: a difference proves nothing.
		default:
			out.StatusCodeMatch = boolPtr(false)
		}
		out.HeadersMatch = boolPtr(uncommonHeadersIntersect(p, c.Headers))
	}
	// A title is compared even in a truncated body: netx.Title only reports a
	// title whose closing tag arrived, so a partial body's title is whole.
	if p.StatusCode > 0 && c.StatusCode > 0 && p.Title != "" {
		out.TitleMatch = boolPtr(titlesMatch(p.Title, c.Title))
	}
	return out
}

func uncommonHeadersIntersect(p *HTTPObservation, control map[string]string) bool {
	theirs := map[string]bool{}
	for k := range control {
		if k = strings.ToLower(k); !commonHeaders[k] {
			theirs[k] = true
		}
	}
	for k := range p.Header {
		if k = strings.ToLower(k); !commonHeaders[k] && theirs[k] {
			return true
		}
	}
	return false
}

// titlesMatch is OONI v0.5's rule: no long word appears in only one of the titles.
func titlesMatch(a, b string) bool {
	words := func(s string) map[string]bool {
		out := map[string]bool{}
		for _, w := range strings.Fields(s) {
			if len(w) >= titleWordMinLen {
				out[strings.ToLower(w)] = true
			}
		}
		return out
	}
	wa, wb := words(a), words(b)
	for w := range wa {
		if !wb[w] {
			return false
		}
	}
	for w := range wb {
		if !wa[w] {
			return false
		}
	}
	return true
}

func lower(s string) string { return strings.ToLower(s) }

func isHTTPSURL(s string) bool { return strings.HasPrefix(strings.ToLower(s), "https://") }
