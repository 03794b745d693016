package runner

import (
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
)

// outcomesAt builds URL outcomes ending at the given seconds: 'u' loaded, 'd'
// failed with the control unreachable, 'b' failed (blocked) with the control
// reachable.
func outcomesAt(t0 time.Time, spec map[float64]string) []urlOutcome {
	var out []urlOutcome
	for sec, kinds := range spec {
		for _, k := range kinds {
			out = append(out, urlOutcome{end: t0.Add(time.Duration(sec * float64(time.Second))), loaded: k == 'u', networkFailed: k == 'd'})
		}
	}
	return out
}

func TestJudgeURLPhase(t *testing.T) {
	t0 := time.Date(2022, 1, 6, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		spec map[float64]string
		want string
	}{
		{"URLs fail together, control included, then recover", map[float64]string{1: "uuuu", 6: "ddddd", 12: "uuuub"}, nettests.NetworkPartialShutdown},
		{"recover, then fail together", map[float64]string{1: "ddddd", 6: "uuuu"}, nettests.NetworkPartialShutdown},
		{"a blocked category measured together is the censor's, not the network's", map[float64]string{1: "uuuu", 6: "bbbbb", 12: "uuuu"}, ""},
		{"every URL fails with the control (a shutdown throughout): the checks say it", map[float64]string{1: "dddd", 6: "dddd"}, ""},
		{"too few URLs in the failing window", map[float64]string{1: "uuuu", 6: "ddd", 12: "uuuu"}, ""},
		{"a failing window diluted by loads", map[float64]string{1: "uuuu", 6: "dddduu", 12: "uuuu"}, ""},
		{"all up", map[float64]string{1: "uuuu", 6: "uuuu"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := judgeURLPhase(outcomesAt(t0, tc.spec))
			if p.Verdict != tc.want {
				t.Fatalf("verdict %q, want %q; windows %+v", p.Verdict, tc.want, p.Windows)
			}
		})
	}
}

func TestRunNetworkVerdict(t *testing.T) {
	partial := &URLPhase{Verdict: nettests.NetworkPartialShutdown}
	none := &URLPhase{}
	for _, tc := range []struct {
		before, after string
		phase         *URLPhase
		want          string
	}{
		{nettests.NetworkOnline, nettests.NetworkOnline, partial, nettests.NetworkPartialShutdown},
		{nettests.NetworkOnline, nettests.NetworkOnline, none, nettests.NetworkOnline},
		{nettests.NetworkOnline, nettests.NetworkPartialShutdown, none, nettests.NetworkPartialShutdown},
		{nettests.NetworkWhitelist, nettests.NetworkWhitelist, partial, nettests.NetworkWhitelist},
		{nettests.NetworkFullShutdown, "", none, nettests.NetworkFullShutdown},
		{"", "", none, ""},
	} {
		if got := runNetworkVerdict(tc.before, tc.after, tc.phase); got != tc.want {
			t.Errorf("before %q after %q phase %q: %q, want %q", tc.before, tc.after, tc.phase.Verdict, got, tc.want)
		}
	}
}
