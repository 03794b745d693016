package hostile_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/hostile"
)

// memoryBound is the loose ceiling on the bytes a fetch may allocate against a
// hostile server whose attack is unbounded: many times the 1 MiB body cap (decoding,
// the sha256, JSON-ready copies), far below what an uncapped read allocates in the
// same time on loopback (hundreds of MiB).
const memoryBound = 64 << 20

func TestEndlessBodyStopsAtTheCap(t *testing.T) {
	srv := hostile.NewEndlessBody(t)
	var res *netx.FetchResult
	var err error
	alloc := allocated(func() { res, err = fetch(t, srv.URL, patientOptions()) })
	if err != nil {
		t.Fatalf("fetch: %v (a capped body is a result, not a failure)", err)
	}
	if len(res.Body) != testCap || !res.BodyTruncated || !res.Final.Response.BodyIsTruncated {
		t.Errorf("body %d bytes, truncated %v/%v; want %d bytes and the flag", len(res.Body), res.BodyTruncated, res.Final.Response.BodyIsTruncated, testCap)
	}
	if alloc > memoryBound {
		t.Errorf("fetch allocated %d MiB, want under %d MiB", alloc>>20, memoryBound>>20)
	}
	t.Logf("endless body: %d KiB allocated", alloc>>10)
}

func TestHugeBodyStopsAtTheCap(t *testing.T) {
	srv := hostile.NewHugeBody(t, 1<<30)
	var res *netx.FetchResult
	var err error
	alloc := allocated(func() { res, err = fetch(t, srv.URL, patientOptions()) })
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if len(res.Body) != testCap || !res.BodyTruncated || res.Final.Response.XBodyLength != testCap {
		t.Errorf("body %d bytes (x_body_length %d), truncated %v; want %d and the flag", len(res.Body), res.Final.Response.XBodyLength, res.BodyTruncated, testCap)
	}
	if alloc > memoryBound {
		t.Errorf("fetch allocated %d MiB, want under %d MiB", alloc>>20, memoryBound>>20)
	}
}

func TestGzipBombStopsAtTheCapOfDecodedBytes(t *testing.T) {
	bomb := hostile.GzipBomb(t, 64<<20)
	srv := hostile.NewGzipServer(t, bomb)
	var res *netx.FetchResult
	var err error
	alloc := allocated(func() { res, err = fetch(t, srv.URL, patientOptions()) })
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if len(res.Body) != testCap || !res.BodyTruncated || !bytes.Equal(res.Body, make([]byte, testCap)) {
		t.Errorf("body %d bytes truncated %v; want %d decoded zero bytes and the flag", len(res.Body), res.BodyTruncated, testCap)
	}
	if alloc > memoryBound {
		t.Errorf("a %d KiB bomb of 64 MiB made the fetch allocate %d MiB, want under %d MiB", len(bomb)>>10, alloc>>20, memoryBound>>20)
	}
	t.Logf("gzip bomb of %d KiB (64 MiB inflated): %d KiB allocated", len(bomb)>>10, alloc>>10)
}

// TestEndlessHeaders: a response whose header section never ends, as endless header
// lines or as one endless line, must fail as a classified failure of the round trip
// without the fetch holding the stream in memory until the header timeout.
func TestEndlessHeaders(t *testing.T) {
	for name, srv := range map[string]*hostile.Server{
		"lines": hostile.NewEndlessHeaderLines(t),
		"line":  hostile.NewEndlessHeaderLine(t),
	} {
		t.Run(name, func(t *testing.T) {
			var res *netx.FetchResult
			var err error
			alloc := allocated(func() { res, err = fetch(t, srv.URL, patientOptions()) })
			failure, op := failureOf(err)
			if !isClassified(failure) || op != "http_round_trip" {
				t.Errorf("failure %q in %q, want a classified failure of http_round_trip", failure, op)
			}
			if res.Final == nil || res.Final.Failure == nil || *res.Final.Failure != failure {
				t.Errorf("the requests event does not carry the failure %q", failure)
			}
			if alloc > memoryBound {
				t.Errorf("fetch allocated %d MiB reading endless headers, want under %d MiB", alloc>>20, memoryBound>>20)
			}
			t.Logf("endless header %s: %s, %d KiB allocated", name, failure, alloc>>10)
		})
	}
}

// isClassified reports whether s is a failure string of the vocabulary other than
// unknown_failure.
func isClassified(s string) bool {
	return s != "" && !strings.HasPrefix(s, netx.FailureUnknownPrefix) && !strings.HasPrefix(s, "unclassified")
}

// TestSlowlorisEndsAtThePhaseTimeout: a server dribbling one byte per interval never
// trips an idle timeout, only the phase's own bound, which must end it and say which
// phase it was.
func TestSlowlorisEndsAtThePhaseTimeout(t *testing.T) {
	for _, tc := range []struct {
		name  string
		phase hostile.SlowPhase
		op    string
	}{
		{"headers", hostile.SlowHeaders, "http_round_trip"},
		{"body", hostile.SlowBody, "read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := hostile.NewSlowloris(t, tc.phase, 10*time.Millisecond)
			opts := shortOptions()
			opts.BodyTimeout = time.Second // room for some bytes to arrive on a loaded machine
			res, err := fetch(t, srv.URL, opts)
			failure, op := failureOf(err)
			if failure != netx.FailureGenericTimeout || op != tc.op {
				t.Fatalf("failure %q in %q, want %q in %q", failure, op, netx.FailureGenericTimeout, tc.op)
			}
			if tc.phase == hostile.SlowBody {
				// What arrived before the timeout is kept: a partial body is evidence.
				if n := len(res.Body); n == 0 || n >= hostile.SlowBodySize || strings.Trim(string(res.Body), "x") != "" {
					t.Errorf("partial body of %d bytes, want some of the dribbled x's", n)
				}
				if res.Final.Response.Code != 200 {
					t.Errorf("response code %d, want the 200 received before the body stalled", res.Final.Response.Code)
				}
			}
		})
	}
}

func TestRedirectLoopEndsAtTheBudget(t *testing.T) {
	srv := hostile.NewRedirectLoop(t)
	opts := patientOptions()
	opts.MaxRedirects = 5
	res, err := fetch(t, srv.URL, opts)
	if failure, _ := failureOf(err); failure != netx.FailureHTTPTooManyRedirects {
		t.Fatalf("failure %q, want %q", failure, netx.FailureHTTPTooManyRedirects)
	}
	if len(res.Requests) != opts.MaxRedirects+1 {
		t.Errorf("%d round trips recorded, want the budget plus the first: %d", len(res.Requests), opts.MaxRedirects+1)
	}
	for i, rt := range res.Requests {
		if rt.Response.Code != 302 {
			t.Errorf("round trip %d: code %d, want 302", i, rt.Response.Code)
		}
	}
}

// TestInvalidUTF8IsKeptExactlyAndEncodesAsJSON: bytes that are not UTF-8 in a header
// and a body are evidence (a block page in a legacy charset); they must survive into
// the measurement exactly, as base64 where JSON cannot carry them.
func TestInvalidUTF8IsKeptExactlyAndEncodesAsJSON(t *testing.T) {
	srv := hostile.NewInvalidUTF8(t)
	res, err := fetch(t, srv.URL, patientOptions())
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if string(res.Body) != hostile.InvalidUTF8Body {
		t.Errorf("body %q, want %q", res.Body, hostile.InvalidUTF8Body)
	}
	b := checkJSON(t, res.Final)
	var back netx.RequestEvent
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("the event does not read back: %v", err)
	}
	if got := string(back.Response.Headers["X-Bad"]); got != hostile.InvalidUTF8HeaderValue {
		t.Errorf("X-Bad after a JSON round trip %q, want %q", got, hostile.InvalidUTF8HeaderValue)
	}
	if string(back.Response.Body) != hostile.InvalidUTF8Body {
		t.Errorf("body after a JSON round trip %q", back.Response.Body)
	}
	if title := res.Final.Response.XTitle; title != "caf\uFFFD \uFFFD\uFFFD" {
		t.Errorf("x_title %q, want the invalid bytes replaced", title)
	}
}

// TestMalformedResponsesAreClassified: garbage instead of HTTP, including bytes that
// are not UTF-8 where a header name should be, is http_invalid_response or another
// classified failure, and the failure string itself is valid UTF-8.
func TestMalformedResponsesAreClassified(t *testing.T) {
	for name, raw := range map[string]string{
		"binary status line":  "\xff\xfe\x00garbage\r\n\r\n",
		"bad header name":     "HTTP/1.1 200 OK\r\nX-\xff\xfe: v\r\nContent-Length: 0\r\n\r\n",
		"negative length":     "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
		"huge chunk size":     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
		"status out of range": "HTTP/1.1 9999 What\r\nContent-Length: 0\r\n\r\n",
		"nul in a header":     "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n",
		"no response at all":  "",
		"conflicting lengths": "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
	} {
		t.Run(name, func(t *testing.T) {
			srv := hostile.NewRawResponse(t, raw)
			res, err := fetch(t, srv.URL, patientOptions())
			failure, _ := failureOf(err)
			if !isClassified(failure) {
				t.Errorf("failure %q, want a classified failure", failure)
			}
			checkJSON(t, res.Final)
		})
	}
}
