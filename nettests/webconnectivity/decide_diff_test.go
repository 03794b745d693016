package webconnectivity

import (
	"net/http"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/nettests"
)

// plainPage is an http:// URL whose fetch got status, title and a body of size
// bytes (body text included), with no uncommon header shared with the control.
func plainPage(status int, finalURL, title string, size int, body string) *Observations {
	o := httpObs(cleanObs())
	o.HTTP.StatusCode, o.HTTP.FinalURL, o.HTTP.Title = status, finalURL, title
	o.HTTP.Header = http.Header{"Server": {"nginx"}}
	o.HTTP.Body = []byte(body)
	o.HTTP.BodyLength = int64(size)
	o.Control.HTTPRequest.Headers = map[string]string{"Server": "nginx"}
	o.Control.HTTPRequest.BodyLength = 20000
	o.Control.HTTPRequest.Title = "Example News Homepage"
	o.Control.HTTPRequest.XFinalURL = "http://www.example.org/"
	return o
}

func TestDecideHTTPDiffNeedsCorroboration(t *testing.T) {
	for _, tc := range []struct {
		name   string
		o      *Observations
		want   string
		method string
	}{
		{"another language edition for the probe's country", plainPage(200, "http://www.example.org/", "Пример Новости Главная", 10000, "<title>Пример Новости Главная</title>"), nettests.VerdictOK, ""},
		{"a page that changes on every load", plainPage(200, "http://www.example.org/", "Breaking 17:42 Headline", 9000, "<title>Breaking 17:42 Headline</title>"), nettests.VerdictOK, ""},
		{"a language redirect to the site's own subdomain", plainPage(200, "http://kz.example.org/", "Example Kazakhstan", 8000, ""), nettests.VerdictOK, ""},
		{"a proxy's 403 in place of the page", plainPage(403, "http://www.example.org/", "Access denied", 900, "<title>Access denied</title>"), nettests.VerdictBlocked, nettests.MethodHTTPDiff},
		{"a 200 page with the 'Access denied' trait", plainPage(200, "http://www.example.org/", "Access denied", 900, "<html><title>ACCESS DENIED</title></html>"), nettests.VerdictBlocked, nettests.MethodHTTPDiff},
		{"a redirect to a national warning host", plainPage(200, "http://warning.gov.kz/", "Внимание", 1500, "<title>Внимание</title>"), nettests.VerdictBlocked, nettests.MethodHTTPDiff},
		{"a redirect to another site the control also reached", func() *Observations {
			o := plainPage(200, "http://www.example.net/", "Example Moved", 3000, "")
			o.Control.HTTPRequest.XFinalURL = "http://www.example.net/"
			return o
		}(), nettests.VerdictOK, ""},
		{"a redirect to a warning page as long as the site's, same title words", func() *Observations {
			o := plainPage(200, "http://warning.gov.kz/", "Example News Homepage", 20000, "")
			return o
		}(), nettests.VerdictBlocked, nettests.MethodHTTPDiff},
		{"a redirect to a warning host's https page", plainPage(200, "https://warning.gov.kz/", "Внимание", 1500, ""), nettests.VerdictBlocked, nettests.MethodHTTPDiff},
		{"a vendor's access-denied blockpage", plainPage(403, "http://www.example.org/", "NetentSec", 700, "<title>NetentSec Content Filter - Access Denied</title>"), nettests.VerdictBlocked, nettests.MethodHTTPBlockpage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.o, nil)
			if d.Verdict != tc.want || d.Method != tc.method {
				t.Fatalf("verdict %s %s, want %s %s (evidence %+v)", d.Verdict, d.Method, tc.want, tc.method, d.Evidence)
			}
			if d.HTTP == nil || !d.HTTP.Differs() {
				if tc.method != nettests.MethodHTTPBlockpage && !strings.Contains(tc.name, "redirect") {
					t.Fatalf("comparison %+v: the case must differ from the control to test the rule", d.HTTP)
				}
			}
			if tc.want == nettests.VerdictOK && !strings.Contains(d.Evidence.Detail, "nothing to corroborate") {
				t.Errorf("ok without the difference noted: %q", d.Evidence.Detail)
			}
		})
	}
}

func TestSameSite(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"www.example.org", "kz.example.org", true},
		{"news.example.kz", "www.example.kz", true},
		{"news.example.com.kz", "example.com.kz", true},
		{"news.example.com.kz", "warning.com.kz", false},
		{"news.example.kz", "warning.gov.kz", false},
		{"www.bbc.co.uk", "news.bbc.co.uk", true},
		{"example.org", "example.net", false},
	} {
		if got := sameSite(tc.a, tc.b); got != tc.want {
			t.Errorf("sameSite(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
