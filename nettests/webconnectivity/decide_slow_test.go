package webconnectivity

import (
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/nettests"
)

// slowObs is a page fetched at kbps over seconds, with or without the body budget
// stopping it, in a run whose other large pages went at 40 Mbit/s; the control
// fetched the whole page in 0.04 s.
func slowObs(scheme string, kbps, seconds float64, budgetStopped bool, controlBytes int64) *Observations {
	o := cleanObs()
	if scheme == "http" {
		o = httpObs(o)
	}
	bytes := int64(kbps * 1000 / 8 * seconds)
	o.HTTP.BodyLength, o.HTTP.TransferSeconds = bytes, seconds
	o.HTTP.Truncated, o.HTTP.BudgetStopped = budgetStopped, budgetStopped
	o.HTTP.Header = nil // no uncommon header in common: the title must carry the match
	o.RunThroughput, o.RunThroughputSamples = 5e6, 4
	o.Control.HTTPRequest.BodyLength = controlBytes
	o.Control.HTTPRequest.XFetchSeconds = 0.04
	return o
}

func TestDecideShapedTransfers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		scheme  string
		kbps    float64
		seconds float64
		stopped bool
		size    int64 // the whole page, as the control got it
		want    string
	}{
		{"https 24 kbit/s, 300 KB, stopped at the 20 s budget (60 KB)", "https", 24, 20, true, 300_000, nettests.VerdictThrottled},
		{"http 40 kbit/s, 400 KB, stopped at the budget (100 KB)", "http", 40, 20, true, 400_000, nettests.VerdictThrottled},
		{"http 96 kbit/s, 200 KB, complete in 16.7 s", "http", 96, 16.7, false, 200_000, nettests.VerdictThrottled},
		{"https 512 kbit/s, 300 KB, complete", "https", 512, 4.7, false, 300_000, nettests.VerdictThrottled},
		{"https 24 kbit/s, 60 KB complete: too small to measure a rate", "https", 24, 20, false, 60_000, nettests.VerdictOK},
		{"https 8 Mbit/s: not slow", "https", 8000, 0.3, false, 300_000, nettests.VerdictOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(slowObs(tc.scheme, tc.kbps, tc.seconds, tc.stopped, tc.size), nil)
			if d.Verdict != tc.want {
				t.Fatalf("verdict %s %s, want %s (evidence %+v)", d.Verdict, d.Method, tc.want, d.Evidence)
			}
		})
	}
}

// TestDecideSlowServerIsNotThrottled: the control is as slow as the probe.
func TestDecideSlowServerIsNotThrottled(t *testing.T) {
	o := slowObs("https", 40, 20, true, 400_000)
	o.Control.HTTPRequest.XFetchSeconds = 80 // 400 KB at 40 kbit/s for the control too
	if d := Decide(o, nil); d.Verdict != nettests.VerdictOK {
		t.Fatalf("verdict %s, want ok: the server is slow for everyone", d.Verdict)
	}
}

// TestDecideStallAfterFirstBytes: a transfer that stops after its first bytes fails
// every try with a read timeout (netx's minimum rate) while the control fetched.
func TestDecideStallAfterFirstBytes(t *testing.T) {
	o := httpObs(cleanObs())
	o.HTTP.Attempts = Attempts{timeout, timeout, timeout}
	o.HTTP.FailedPhase = []string{"", "", ""}
	d := Decide(o, nil)
	if d.Verdict != nettests.VerdictBlocked || d.Method != nettests.MethodHTTPFailure {
		t.Fatalf("verdict %s %s, want blocked http.failure", d.Verdict, d.Method)
	}
	if !strings.Contains(d.Evidence.Failure, "timeout") {
		t.Errorf("evidence %+v: want the timeout", d.Evidence)
	}
}
