package webconnectivity

import (
	"fmt"
	"net/url"
	"strings"
)

// A difference from the control is not blocking on its own: pages differ by
// audience (language editions, regional front pages), by load (news, ads, tokens)
// and by CDN edge, and http.diff is OONI's most frequent false positive
// (ooni/probe#1523, #2235, #1734, #2333; detection-methods.md §7 reports it as
// "suspicious", not blocked). A differing plaintext page is blocked http.diff only
// when something an audience difference does not produce corroborates it.

// diffCorroboration returns why a response that differs from the control is the
// censor's, or "" when nothing corroborates it:
//   - the control got a 2xx page and the probe a 4xx or 5xx one (the page replaced
//     by an error: a filtering proxy's 403 "Access denied");
//   - the body shows a blockpage trait (a vague pattern of the fingerprint file).
func (d *decider) diffCorroboration(h *HTTPObservation) string {
	ctl := &d.ctl.HTTPRequest
	if ctl.StatusCode/100 == 2 && (h.StatusCode/100 == 4 || h.StatusCode/100 == 5) {
		return fmt.Sprintf("status %d where the control got %d", h.StatusCode, ctl.StatusCode)
	}
	if m := d.fp.MatchTrait(h.StatusCode, h.Header, h.Body); m != nil {
		return "the body shows the blockpage trait " + m.Name
	}
	return ""
}

// redirectedAway returns why the probe's fetch ended on another site than the
// URL's and than the control's final URL (a redirect to a warning host: a site
// sends its visitors to its own domain, a language edition included), or "".
// Such a redirect is blocking whatever the comparison says: the warning page may
// be as long as the site's, and may even be served over TLS.
func (d *decider) redirectedAway(h *HTTPObservation) string {
	away := finalHost(h.FinalURL)
	if away == "" || d.o.URL == nil || sameSite(away, d.o.URL.Hostname()) {
		return ""
	}
	if c := d.ctl.HTTPRequest.XFinalURL; c != "" && sameSite(away, finalHost(c)) {
		return ""
	}
	return fmt.Sprintf("the fetch ended on %s, another site than the URL's and the control's", away)
}

func finalHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// sameSite approximates "the same registrable domain" without the Public Suffix
// List: the hosts share their last two labels, or their last three when the
// second-level label is a generic one under a country code (co.uk, com.kz, org.ru).
// A language edition on a subdomain (kz.example.com) is the same site; a warning
// host of the state (warning.gov.kz) is not the site of news.example.kz.
func sameSite(a, b string) bool {
	a, b = strings.TrimSuffix(strings.ToLower(a), "."), strings.TrimSuffix(strings.ToLower(b), ".")
	if a == b {
		return true
	}
	return registrable(a) == registrable(b)
}

// genericSecondLevel are second-level labels that registries under country codes
// use as public suffixes.
var genericSecondLevel = map[string]bool{"co": true, "com": true, "net": true, "org": true, "gov": true, "edu": true, "ac": true, "or": true, "ne": true, "go": true, "mil": true}

func registrable(host string) string {
	labels := strings.Split(host, ".")
	n := 2
	if len(labels) >= 3 && len(labels[len(labels)-1]) == 2 && genericSecondLevel[labels[len(labels)-2]] {
		n = 3
	}
	if len(labels) <= n {
		return host
	}
	return strings.Join(labels[len(labels)-n:], ".")
}
