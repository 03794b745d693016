package runner

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
)

// serviceKeys are fake service keys.
type serviceKeys struct {
	Verdict string `json:"verdict"`
	Method  string `json:"method,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

func (k *serviceKeys) ServiceVerdict() (string, string) {
	if k.Verdict == nettests.VerdictBlocked {
		return k.Verdict, "chat endpoints: " + k.Method
	}
	return k.Verdict, ""
}
func (k *serviceKeys) ServiceMethods() []string {
	if k.Method == "" {
		return []string{}
	}
	return []string{k.Method}
}
func (k *serviceKeys) MarkInconclusive(reason string) {
	k.Verdict, k.Method, k.Reason = nettests.VerdictInconclusive, "", reason
}

// fakeService is a service nettest with a fixed verdict.
type fakeService struct {
	name, verdict, method string
	calls                 int
}

func (f *fakeService) Name() string    { return f.name }
func (f *fakeService) Version() string { return "0.0.1" }
func (f *fakeService) Run(context.Context, string, *netx.Trace) (any, error) {
	f.calls++
	return &serviceKeys{Verdict: f.verdict, Method: f.method}, nil
}

func serviceSkipped(_, reason string) any {
	return &serviceKeys{Verdict: nettests.VerdictInconclusive, Reason: reason}
}

// TestExtrasInsideTheChecks: the service nettests run after the URLs and before
// the after-check, and the network verdict gates them as it gates URLs.
func TestExtrasInsideTheChecks(t *testing.T) {
	cases := []struct {
		name          string
		before, after string
		wantWhatsApp  string
		wantTor       string
		measured      bool
	}{
		{"online", nettests.NetworkOnline, nettests.NetworkOnline, "blocked tcp.timeout", "ok", true},
		{"shutdown after", nettests.NetworkOnline, nettests.NetworkFullShutdown, "inconclusive full_shutdown", "ok", true},
		{"shutdown before", nettests.NetworkFullShutdown, nettests.NetworkFullShutdown, "inconclusive full_shutdown", "inconclusive full_shutdown", false},
		{"local failure before", nettests.NetworkLocalFailure, nettests.NetworkLocalFailure, "inconclusive local_failure", "inconclusive local_failure", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, st, _, rec := newTestRunner(t, &fakeURLs{}, c.before, c.after)
			wa := &fakeService{name: "whatsapp", verdict: "blocked", method: "tcp.timeout"}
			tor := &fakeService{name: "tor", verdict: "ok"}
			r.Extras = []Extra{{Measurer: wa, Skipped: serviceSkipped}, {Measurer: tor, Skipped: serviceSkipped}}
			sum, err := r.Run(context.Background(), []string{"https://ok.example/"})
			if err != nil {
				t.Fatal(err)
			}
			got := storedVerdicts(t, st)
			if got["whatsapp"] != c.wantWhatsApp || got["tor"] != c.wantTor {
				t.Errorf("stored %v", got)
			}
			if (wa.calls == 1) != c.measured || (tor.calls == 1) != c.measured {
				t.Errorf("measured %d/%d times, want measured=%v", wa.calls, tor.calls, c.measured)
			}
			wantSum := ServiceSummary{Verdict: "blocked", Blocked: "chat endpoints: tcp.timeout", Methods: []string{"tcp.timeout"}}
			if c.wantWhatsApp != "blocked tcp.timeout" {
				wantSum = ServiceSummary{Verdict: "inconclusive", Methods: []string{}}
			}
			if !reflect.DeepEqual(sum.Services["whatsapp"], wantSum) || len(sum.Services) != 2 {
				t.Errorf("summary services %+v, want whatsapp %+v", sum.Services, wantSum)
			}
			if c.measured {
				// The order: before-check, URLs, extras, after-check.
				want := []string{"phase urls", "phase whatsapp", "phase tor", "phase " + "connectivity_after"}
				if got := phases(rec.events); !reflect.DeepEqual(got[len(got)-len(want):], want) {
					t.Errorf("phases %v", got)
				}
			}
		})
	}
}

func phases(events []string) []string {
	var out []string
	for _, e := range events {
		if len(e) > 6 && e[:6] == "phase " {
			out = append(out, e)
		}
	}
	return out
}

func TestExtrasRefreshedWhenOnline(t *testing.T) {
	cases := []struct {
		name, before string
		refreshErr   error
		wantFresh    bool
		wantAsked    bool
	}{
		{"online, fresh list", nettests.NetworkOnline, nil, true, true},
		{"online, bad fresh list", nettests.NetworkOnline, errors.New("tor: fetched targets: bad target list: no targets"), false, true},
		{"allowlist: the collector abroad is not asked", nettests.NetworkWhitelist, nil, false, false},
		{"shutdown before: not asked", nettests.NetworkFullShutdown, nil, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _, _, _ := newTestRunner(t, &fakeURLs{}, c.before, c.before)
			var logs bytes.Buffer
			r.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			embedded := &fakeService{name: "tor", verdict: "ok"}
			fresh := &fakeService{name: "tor", verdict: "ok"}
			asked := false
			refresh := func(context.Context) (nettests.Measurer, error) {
				asked = true
				if c.refreshErr != nil {
					return nil, c.refreshErr
				}
				return fresh, nil
			}
			r.Extras = []Extra{{Measurer: embedded, Skipped: serviceSkipped, Refresh: refresh}}
			if _, err := r.Run(context.Background(), []string{"https://ok.example/"}); err != nil {
				t.Fatal(err)
			}
			if asked != c.wantAsked {
				t.Errorf("refresh asked %v, want %v", asked, c.wantAsked)
			}
			measured := c.before == nettests.NetworkOnline || c.before == nettests.NetworkWhitelist
			if c.wantFresh && (fresh.calls != 1 || embedded.calls != 0) {
				t.Errorf("fresh measured %d times, embedded %d: want the fresh one", fresh.calls, embedded.calls)
			}
			if !c.wantFresh && measured && (embedded.calls != 1 || fresh.calls != 0) {
				t.Errorf("embedded measured %d times, fresh %d: want the embedded one", embedded.calls, fresh.calls)
			}
			if c.refreshErr != nil && (!strings.Contains(logs.String(), "keeping the embedded target list") || !strings.Contains(logs.String(), "no targets")) {
				t.Errorf("the fallback is not logged with its reason: %s", logs.String())
			}
		})
	}
}

// TestExtrasRefreshedTogether: the target lists are fetched at once, so a dead
// collector costs one fetch timeout per run. Each refresh here returns only once
// both have started; asked one after the other, the first would wait until the
// run's context ends (a bound against hanging, not a timing assertion) and fail.
func TestExtrasRefreshedTogether(t *testing.T) {
	r, _, _, _ := newTestRunner(t, &fakeURLs{}, nettests.NetworkOnline, nettests.NetworkOnline)
	var started sync.WaitGroup
	started.Add(2)
	both := make(chan struct{})
	go func() { started.Wait(); close(both) }()
	var fresh []*fakeService
	for _, name := range []string{"whatsapp", "tor"} {
		f := &fakeService{name: name, verdict: "ok"}
		fresh = append(fresh, f)
		refresh := func(ctx context.Context) (nettests.Measurer, error) {
			started.Done()
			select {
			case <-both:
				return f, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		r.Extras = append(r.Extras, Extra{Measurer: &fakeService{name: name, verdict: "ok"}, Skipped: serviceSkipped, Refresh: refresh})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.Run(ctx, []string{"https://ok.example/"}); err != nil {
		t.Fatal(err)
	}
	if fresh[0].calls != 1 || fresh[1].calls != 1 {
		t.Errorf("fresh lists measured %d/%d times: not refreshed together", fresh[0].calls, fresh[1].calls)
	}
}
