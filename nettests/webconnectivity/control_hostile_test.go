package webconnectivity_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/webconnectivity"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/dnstest"
	"github.com/vantage-probe/vantage/probe/netx/hostile"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// TestHostileControlHelper: a control helper is a server on the internet like any
// other and may be broken, compromised or impersonated on the path. Whatever it
// answers (an endless body, headers without end, a byte at a time, a redirect loop,
// garbage, JSON of the wrong shape) the measurement of a site that works must end
// within the control budget, record a control failure, and never call the site
// blocked.
func TestHostileControlHelper(t *testing.T) {
	ca := netxtest.MustCA(t, "hostile helper CA")
	const site = "site.test"
	srv := netxtest.NewHTTPSServer(t, netxtest.MustIssue(t, ca, site), netxtestPage())
	dns := dnstest.NewServer(t, map[string]dnstest.Rule{site: dnstest.Answer("127.0.0.1")})
	helpers := map[string]string{
		"endless body":          hostile.NewEndlessBody(t).URL,
		"endless header line":   hostile.NewEndlessHeaderLine(t).URL,
		"slowloris headers":     hostile.NewSlowloris(t, hostile.SlowHeaders, 50*time.Millisecond).URL,
		"slowloris body":        hostile.NewSlowloris(t, hostile.SlowBody, 50*time.Millisecond).URL,
		"redirect loop":         hostile.NewRedirectLoop(t).URL,
		"garbage":               hostile.NewRawResponse(t, "\xff\xfe garbage\r\n\r\n").URL,
		"JSON of another shape": hostile.NewRawResponse(t, jsonResponse(`{"tcp_connect":[1,2,3],"dns":"no","http_request":{"status_code":"x"}}`)).URL,
		"deeply nested JSON":    hostile.NewRawResponse(t, jsonResponse(nested(100000))).URL,
	}
	for name, helper := range helpers {
		t.Run(name, func(t *testing.T) {
			keys := measureWithHelper(t, ca, dns.UDPURL(), helper, srv.URLFor(site))
			if keys.ControlFailure == nil {
				t.Errorf("no control failure recorded (control %+v)", keys.Control)
			}
			if keys.Verdict == nettests.VerdictBlocked {
				t.Errorf("verdict blocked (%v) for a site that works, from a broken helper", keys.Method)
			}
			t.Logf("verdict %s, control failure %q", keys.Verdict, deref(keys.ControlFailure))
			if _, err := json.Marshal(keys); err != nil {
				t.Errorf("keys do not encode: %v", err)
			}
		})
	}
}

// netxtestPage is the site's page: plain and the same for everyone.
func netxtestPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html><head><title>A site that works</title></head><body>"+strings.Repeat("text ", 200)+"</body></html>")
	})
}

// jsonResponse is a whole HTTP/1.1 200 response carrying body as JSON.
func jsonResponse(body string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
}

// nested is a JSON array nested depth times.
func nested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

// measureWithHelper measures url once with a fast policy and helper as the only
// control, and fails t unless the measurement ends.
func measureWithHelper(t *testing.T, ca *netxtest.CA, resolver, helper, url string) *webconnectivity.TestKeys {
	t.Helper()
	step := 800 * time.Millisecond
	env := &nettests.Env{Netx: &netx.Client{Resolver: resolver, Roots: ca.Pool(), Timeout: step}}
	m, err := webconnectivity.NewWithConfig(env, webconnectivity.Config{
		Helpers:         []string{helper},
		Retries:         1,
		RetrySpacing:    10 * time.Millisecond,
		Timeouts:        webconnectivity.TimeoutPolicy{Initial: step, Floor: step, Ceiling: step},
		ControlBudget:   time.Second,
		URLBudget:       20 * time.Second,
		ValidationPort:  "1",
		LabAllowPrivate: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := m.Run(context.Background(), url, netx.NewTrace(time.Now(), nil))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return keys.(*webconnectivity.TestKeys)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
