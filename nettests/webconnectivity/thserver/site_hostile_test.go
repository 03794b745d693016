package thserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
	"github.com/vantage-probe/vantage/nettests/webconnectivity/thserver"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/hostile"
)

// TestHelperAgainstHostileSites: anyone may ask the helper to measure any URL, so a
// site built to exhaust it (an endless body, a gzip bomb, endless headers, a
// slowloris) must not hold it past its fetch timeout nor grow its memory much past
// the body cap: the answer still comes, with the fetch capped or failed with a
// classified failure. (Before the helper capped headers as the probe does, an
// endless header line cost 71 MB per request, as unknown_failure.)
func TestHelperAgainstHostileSites(t *testing.T) {
	const bodyCap = 1 << 20
	for _, tc := range []struct {
		name    string
		srv     *hostile.Server
		failure string // "" when the fetch must succeed, capped
	}{
		{"endless body", hostile.NewEndlessBody(t), ""},
		{"1 GiB body", hostile.NewHugeBody(t, 1<<30), ""},
		{"gzip bomb", hostile.NewGzipServer(t, hostile.GzipBomb(t, 64<<20)), ""},
		{"endless header line", hostile.NewEndlessHeaderLine(t), netx.FailureHTTPInvalidResponse},
		{"endless header lines", hostile.NewEndlessHeaderLines(t), netx.FailureHTTPInvalidResponse},
		{"slowloris headers", hostile.NewSlowloris(t, hostile.SlowHeaders, 100*time.Millisecond), netx.FailureGenericTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			helper := newHostileSiteHelper(t, bodyCap)
			_, port, _ := net.SplitHostPort(tc.srv.Addr)
			req := thproto.Request{HTTPRequest: "http://site.test:" + port + "/", TCPConnect: []string{tc.srv.Addr}}
			var answer thproto.Response
			var status int
			alloc := allocatedDuring(func() { status, answer = askHelper(t, helper, req) })
			if status != http.StatusOK {
				t.Fatalf("helper answered %d", status)
			}
			got := answer.HTTPRequest
			if deref(got.Failure) != tc.failure {
				t.Fatalf("fetch failure %q, want %q (body_length %d)", deref(got.Failure), tc.failure, got.BodyLength)
			}
			if tc.failure == "" && got.BodyLength != bodyCap {
				t.Errorf("body_length %d, want the cap %d", got.BodyLength, bodyCap)
			}
			if alloc > 16<<20 {
				t.Errorf("helper allocated %d MiB for one request, want under 16 MiB", alloc>>20)
			}
			t.Logf("%s: failure %q, body_length %d, %d KiB allocated", tc.name, deref(got.Failure), got.BodyLength, alloc>>10)
		})
	}
}

// newHostileSiteHelper starts a lab helper (loopback allowed) resolving site.test to
// 127.0.0.1, with a fetch timeout short for a test yet far above what the capped
// attacks take on a loaded machine.
func newHostileSiteHelper(t *testing.T, bodyCap int64) string {
	t.Helper()
	h, err := thserver.New(thserver.Config{
		Lookup:       func(context.Context, string) ([]string, error) { return []string{"127.0.0.1"}, nil },
		AllowPrivate: true, MaxBodyBytes: bodyCap,
		EndpointTimeout: 2 * time.Second, FetchTimeout: 2 * time.Second, RequestTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

func askHelper(t *testing.T, helper string, req thproto.Request) (int, thproto.Response) {
	t.Helper()
	body, _ := json.Marshal(req)
	resp, err := http.Post(helper, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer thproto.Response
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
			t.Fatalf("answer: %v", err)
		}
	}
	return resp.StatusCode, answer
}

// allocatedDuring returns the bytes the process allocated while f ran.
func allocatedDuring(f func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
