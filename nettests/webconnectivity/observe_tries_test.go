package webconnectivity

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
	"github.com/vantage-probe/vantage/probe/netx"
)

// triesMeasurer is a measurer whose tries are spaced by spacing.
func triesMeasurer(t *testing.T, spacing time.Duration) *Measurer {
	t.Helper()
	m, err := NewWithConfig(&nettests.Env{}, Config{RetrySpacing: spacing})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A try still waiting when the next is due does not delay it: the second try starts
// while the first is running, and the first, failing after the second succeeded, is
// still recorded in its place.
func TestTriesOverlapWhileWaiting(t *testing.T) {
	m := triesMeasurer(t, 20*time.Millisecond)
	secondStarted := make(chan struct{})
	var calls atomic.Int32
	got := m.tries(context.Background(), 3, func(i int) string {
		calls.Add(1)
		if i == 0 {
			select {
			case <-secondStarted:
				return timeout // the black hole "times out" once the next try is under way
			case <-time.After(5 * time.Second):
				return "try 1 never started while try 0 was running"
			}
		}
		close(secondStarted)
		return ok
	})
	if want := (Attempts{timeout, ok}); !slices.Equal(got, want) {
		t.Fatalf("attempts %q, want %q", got, want)
	}
	if calls.Load() != 2 {
		t.Fatalf("%d tries ran, want 2: no try starts after a success", calls.Load())
	}
}

// Failures that end at once keep the tries spaced and in order; every try runs.
func TestTriesSpacedAfterQuickFailures(t *testing.T) {
	const spacing = 30 * time.Millisecond
	m := triesMeasurer(t, spacing)
	var mu sync.Mutex
	var starts []time.Time
	begin := time.Now()
	got := m.tries(context.Background(), 3, func(i int) string {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		return reset
	})
	if want := (Attempts{reset, reset, reset}); !slices.Equal(got, want) {
		t.Fatalf("attempts %q, want %q", got, want)
	}
	for i, s := range starts {
		// A lower bound only, from before the call: timers never fire early.
		if at, due := s.Sub(begin), time.Duration(i)*spacing; at < due {
			t.Errorf("try %d started at %v, want no earlier than %v", i, at, due)
		}
	}
}

// A first success ends the step with one try.
func TestTriesStopAtFirstSuccess(t *testing.T) {
	m := triesMeasurer(t, time.Millisecond)
	got := m.tries(context.Background(), 3, func(int) string { return ok })
	if want := (Attempts{ok}); !slices.Equal(got, want) {
		t.Fatalf("attempts %q, want %q", got, want)
	}
}

// A cancelled context starts no more tries and returns once the running ones ended.
func TestTriesCancelled(t *testing.T) {
	m := triesMeasurer(t, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	got := m.tries(ctx, 3, func(int) string { cancel(); return timeout })
	if want := (Attempts{timeout}); !slices.Equal(got, want) {
		t.Fatalf("attempts %q, want %q", got, want)
	}
}

// A connect refused inside the fetch (or a TLS retry) is TCP evidence, a handshake
// reset inside the fetch TLS evidence: with the TCP and TLS steps' own tries
// working, the URL is intermittent tcp.reset or tls.reset, not http.failure.
func TestDecideConnectFailuresOfOtherSteps(t *testing.T) {
	refused := netx.FailureConnectionRefused
	cases := []struct {
		name   string
		mutate func(o *Observations)
		want   Decision
	}{
		{"fetch connect refused once", func(o *Observations) {
			o.HTTP.Attempts, o.HTTP.FailedPhase = Attempts{refused, ok}, []string{opConnect, ""}
			o.Endpoints[0].OtherConnects = Attempts{refused, ok}
		}, Decision{Verdict: nettests.VerdictIntermittent, Method: nettests.MethodTCPReset}},
		{"fetch connect refused every time", func(o *Observations) {
			o.HTTP.Attempts, o.HTTP.FailedPhase = Attempts{refused, refused, refused}, []string{opConnect, opConnect, opConnect}
			o.Endpoints[0].OtherConnects = Attempts{refused, refused, refused}
		}, Decision{Verdict: nettests.VerdictIntermittent, Method: nettests.MethodTCPReset}},
		{"TLS retry connect refused", func(o *Observations) {
			tls := o.Endpoints[0].TLS
			tls.Attempts, tls.ConnectFailed = Attempts{reset, refused, ok}, []bool{false, true, false}
			o.Endpoints[0].OtherConnects = Attempts{refused, ok}
		}, Decision{Verdict: nettests.VerdictIntermittent, Method: nettests.MethodTCPReset}},
		{"fetch handshake reset every time", func(o *Observations) {
			o.HTTP.Attempts, o.HTTP.FailedPhase = Attempts{reset, reset, reset}, []string{opTLSHandshake, opTLSHandshake, opTLSHandshake}
			o.Endpoints[0].OtherConnects = Attempts{ok, ok, ok}
			o.Endpoints[0].TLS.OtherHandshakes = Attempts{reset, reset, reset}
		}, Decision{Verdict: nettests.VerdictIntermittent, Method: nettests.MethodTLSReset}},
		{"fetch reset after the handshake stays http", func(o *Observations) {
			o.HTTP.Attempts, o.HTTP.FailedPhase = Attempts{reset, ok}, []string{"", ""}
			o.Endpoints[0].OtherConnects = Attempts{ok, ok}
			o.Endpoints[0].TLS.OtherHandshakes = Attempts{ok, ok}
		}, Decision{Verdict: nettests.VerdictIntermittent, Method: nettests.MethodHTTPFailure}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := cleanObs()
			c.mutate(o)
			got := Decide(o, nil)
			if got.Verdict != c.want.Verdict || got.Method != c.want.Method {
				t.Fatalf("got %s %s (%+v), want %s %s", got.Verdict, got.Method, got.Evidence, c.want.Verdict, c.want.Method)
			}
		})
	}
}

// The control client keeps at most its slots in flight, however many URLs ask.
func TestControlInFlightBounded(t *testing.T) {
	const slots = 3
	var inFlight, peak atomic.Int32
	helper := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(10 * time.Millisecond) // hold the slot so requests overlap
		_, _ = w.Write([]byte(`{"tcp_connect":{},"http_request":{"status_code":200}}`))
	}))
	defer helper.Close()
	c := &controlClient{helpers: []string{helper.URL}, client: helper.Client(), budget: 10 * time.Second, slots: make(chan struct{}, slots)}
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 4 * slots {
		wg.Go(func() {
			if _, _, err := c.query(context.Background(), &thproto.Request{HTTPRequest: "https://example.org/"}); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d queries failed", failed.Load())
	}
	if p := peak.Load(); p > slots || p < 1 {
		t.Fatalf("peak in flight %d, want 1..%d", p, slots)
	}
}

// A helper that sheds load (503) is asked again after its Retry-After.
func TestControlRetriesBusyHelper(t *testing.T) {
	var calls atomic.Int32
	helper := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"tcp_connect":{},"http_request":{"status_code":200}}`))
	}))
	defer helper.Close()
	c := &controlClient{helpers: []string{helper.URL}, client: helper.Client(), budget: 10 * time.Second}
	resp, _, err := c.query(context.Background(), &thproto.Request{HTTPRequest: "https://example.org/"})
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	if resp.HTTPRequest.StatusCode != 200 || calls.Load() != 2 {
		t.Fatalf("status %d after %d calls, want 200 after 2", resp.HTTPRequest.StatusCode, calls.Load())
	}
}

// A try whose peer answered is transferring, not waiting: the next try, though
// due, starts only once it has ended (and failed).
func TestTriesWaitForAnsweredTry(t *testing.T) {
	m := triesMeasurer(t, 5*time.Millisecond)
	var mu sync.Mutex
	var events []string
	note := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	got := m.triesUntilAnswered(context.Background(), 3, func(i int, answered func()) string {
		note(fmt.Sprintf("start %d", i))
		if i == 0 {
			answered()
			time.Sleep(60 * time.Millisecond) // a slow transfer, well past the spacing
			note("end 0")
			return reset
		}
		return ok
	})
	if want := (Attempts{reset, ok}); !slices.Equal(got, want) {
		t.Fatalf("attempts %q, want %q", got, want)
	}
	if want := []string{"start 0", "end 0", "start 1"}; !slices.Equal(events, want) {
		t.Fatalf("events %q, want %q", events, want)
	}
}
