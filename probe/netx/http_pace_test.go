package netx_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// pacedBody serves total bytes of 'x' in chunks of chunk bytes every interval, then
// goes silent (keeps the request open) after stallAfter bytes when stallAfter > 0.
func pacedBody(total, chunk int, interval time.Duration, stallAfter int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		piece := strings.Repeat("x", chunk)
		for sent := 0; sent < total; sent += chunk {
			if stallAfter > 0 && sent >= stallAfter {
				<-r.Context().Done()
				return
			}
			if _, err := w.Write([]byte(piece)); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(interval):
			}
		}
	})
}

// paceOptions: a 1,000 B/s floor checked every 200 ms, and the given budget.
func paceOptions(budget time.Duration) netx.FetchOptions {
	return netx.FetchOptions{MinBodyRate: 1000, BodyRateWindow: 200 * time.Millisecond, BodyTimeout: budget, TotalTimeout: 5 * time.Second}
}

func TestFetchSlowBodyStoppedByTheBudgetIsAResult(t *testing.T) {
	// 1 KB every 20 ms (about 50 KB/s, far above the floor) of a 1 MB body: the
	// budget ends the read long before the end.
	srv := netxtest.NewHTTPServer(t, pacedBody(1<<20, 1000, 20*time.Millisecond, 0))
	res, _, err := fetch(t, &netx.Client{}, srv.URL, paceOptions(600*time.Millisecond))
	if err != nil {
		t.Fatalf("Fetch: %v; want no error: the transfer was progressing", err)
	}
	r := res.Final.Response
	if r.XBodyStopped != netx.BodyStoppedBudget || !res.BodyTruncated || !r.BodyIsTruncated {
		t.Errorf("stopped %q truncated %v/%v, want %q and truncated", r.XBodyStopped, res.BodyTruncated, r.BodyIsTruncated, netx.BodyStoppedBudget)
	}
	if n := len(res.Body); n == 0 || n >= 1<<20 || strings.Trim(string(res.Body), "x") != "" {
		t.Errorf("partial body of %d bytes, want part of the x's", n)
	}
	if r.XBodyBytes != int64(len(res.Body)) || r.XBodySeconds <= 0 {
		t.Errorf("x_body_bytes %d x_body_seconds %v, want %d bytes and a duration", r.XBodyBytes, r.XBodySeconds, len(res.Body))
	}
}

func TestFetchSlowBodyThatEndsIsComplete(t *testing.T) {
	srv := netxtest.NewHTTPServer(t, pacedBody(5000, 1000, 20*time.Millisecond, 0))
	res, _, err := fetch(t, &netx.Client{}, srv.URL, paceOptions(4*time.Second))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if r := res.Final.Response; len(res.Body) != 5000 || res.BodyTruncated || r.XBodyStopped != "" || r.XBodyBytes != 5000 {
		t.Errorf("body %d bytes truncated %v stopped %q bytes %d, want the whole 5000 unflagged", len(res.Body), res.BodyTruncated, r.XBodyStopped, r.XBodyBytes)
	}
}

func TestFetchStallAfterTheFirstBytesFails(t *testing.T) {
	// 30 KB arrive, then nothing: the first rate window passes, the second does
	// not. Judged at the budget (4 s) the average would be 7.5 KB/s, above the
	// floor, so only the window check can say "stalled".
	srv := netxtest.NewHTTPServer(t, pacedBody(1<<20, 1000, time.Millisecond, 30000))
	res, _, err := fetch(t, &netx.Client{}, srv.URL, paceOptions(4*time.Second))
	if got := failure(err); got != netx.FailureGenericTimeout || operation(err) != "read" {
		t.Fatalf("failure %q in %q (%v), want a timeout reading the body", got, operation(err), err)
	}
	r := res.Final.Response
	if r.XBodyStopped != netx.BodyStoppedStalled || string(res.Body) != strings.Repeat("x", 30000) || r.Code != 200 {
		t.Errorf("stopped %q, body %d bytes, code %d; want %q with the 30000 bytes kept", r.XBodyStopped, len(res.Body), r.Code, netx.BodyStoppedStalled)
	}
}

func TestFetchTrickleBelowTheFloorFails(t *testing.T) {
	// 10 bytes every 20 ms is 500 B/s: moving, but under the 1,000 B/s floor.
	srv := netxtest.NewHTTPServer(t, pacedBody(1<<20, 10, 20*time.Millisecond, 0))
	res, _, err := fetch(t, &netx.Client{}, srv.URL, paceOptions(4*time.Second))
	if got := failure(err); got != netx.FailureGenericTimeout || res.Final.Response.XBodyStopped != netx.BodyStoppedStalled {
		t.Fatalf("failure %q stopped %q, want %q and %q", got, res.Final.Response.XBodyStopped, netx.FailureGenericTimeout, netx.BodyStoppedStalled)
	}
}

func TestFetchBudgetOnATrickleFails(t *testing.T) {
	// The budget ends before the first rate window: the whole read's average
	// (500 B/s) decides, and it is under the floor.
	srv := netxtest.NewHTTPServer(t, pacedBody(1<<20, 10, 20*time.Millisecond, 0))
	opts := paceOptions(300 * time.Millisecond)
	opts.BodyRateWindow = 4 * time.Second
	res, _, err := fetch(t, &netx.Client{}, srv.URL, opts)
	if got := failure(err); got != netx.FailureGenericTimeout || res.Final.Response.XBodyStopped != netx.BodyStoppedStalled {
		t.Fatalf("failure %q stopped %q, want %q and %q", got, res.Final.Response.XBodyStopped, netx.FailureGenericTimeout, netx.BodyStoppedStalled)
	}
}

func TestFetchQuietSpellShorterThanTheWindowIsNotAStall(t *testing.T) {
	// 4 KB every 300 ms, silent in between (a TCP backoff on a shaped link):
	// every 400 ms window holds a chunk, far above the 400 bytes it needs.
	srv := netxtest.NewHTTPServer(t, pacedBody(1<<20, 4000, 300*time.Millisecond, 0))
	opts := paceOptions(1500 * time.Millisecond)
	opts.BodyRateWindow = 400 * time.Millisecond
	res, _, err := fetch(t, &netx.Client{}, srv.URL, opts)
	if err != nil || res.Final.Response.XBodyStopped != netx.BodyStoppedBudget {
		t.Fatalf("Fetch: %v, stopped %q; want the budget to end a transfer that kept moving", err, res.Final.Response.XBodyStopped)
	}
}
