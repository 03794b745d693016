package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/report/collector/web"
)

// TestPageLoadsNothingFromElsewhere checks the page's own files: every script and
// style sheet it references is served by the collector, the policy header forbids
// other origins, and the chart library ships with its licence.
func TestPageLoadsNothingFromElsewhere(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, page := get("/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	var assets int
	for _, m := range refs {
		ref := m[1]
		if strings.HasPrefix(ref, "/api/") {
			continue // a link for people, not something the page loads
		}
		if !strings.HasPrefix(ref, "/static/") {
			t.Errorf("the page references %q, not one of its own files", ref)
			continue
		}
		assets++
		if r, body := get(ref); r.StatusCode != 200 || len(body) == 0 {
			t.Errorf("%s: %s", ref, r.Status)
		}
	}
	if assets < 4 {
		t.Errorf("found %d assets in the page, want the script, the library and two style sheets", assets)
	}
	for _, path := range []string{"/static/uplot/LICENSE", "/static/uplot/SOURCE.md"} {
		if r, body := get(path); r.StatusCode != 200 || !strings.Contains(body, "uPlot") && !strings.Contains(body, "Leon Sorokin") {
			t.Errorf("%s: %s", path, r.Status)
		}
	}
	_, script := get("/static/app.js")
	if regexp.MustCompile(`https?://`).MatchString(script) {
		t.Errorf("app.js names an absolute URL")
	}
	if r, _ := get("/nothing"); r.StatusCode != 404 {
		t.Errorf("GET /nothing: %s", r.Status)
	}
}
