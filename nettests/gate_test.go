package nettests

import "testing"

func TestNetworkDownReason(t *testing.T) {
	want := map[string]string{
		NetworkOnline: "", NetworkFullShutdown: ReasonFullShutdown, NetworkPartialShutdown: "",
		NetworkWhitelist: "", NetworkLocalFailure: ReasonLocalFailure, NetworkThrottled: "", "": "",
	}
	for verdict, reason := range want {
		if got := NetworkDownReason(verdict); got != reason {
			t.Errorf("NetworkDownReason(%q) = %q, want %q", verdict, got, reason)
		}
	}
}

// TestGateURL is the table of the one gating rule: every URL verdict against
// every network reason.
func TestGateURL(t *testing.T) {
	verdicts := []string{VerdictOK, VerdictBlocked, VerdictThrottled, VerdictIntermittent, VerdictDown, VerdictInconclusive}
	reasons := []string{"", ReasonFullShutdown, ReasonLocalFailure, ReasonNetworkUnknown}
	for _, v := range verdicts {
		for _, r := range reasons {
			want := r // every verdict but ok takes the network's reason, inconclusive included
			if v == VerdictOK {
				want = ""
			}
			if got := GateURL(v, r); got != want {
				t.Errorf("GateURL(%q, %q) = %q, want %q", v, r, got, want)
			}
		}
	}
}
