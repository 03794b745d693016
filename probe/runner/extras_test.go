package runner

import (
	"context"
	"reflect"
	"testing"

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
