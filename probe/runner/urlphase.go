package runner

import (
	"slices"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/report"
)

// The URL phase's own evidence of the network. Connectivity checks run before and
// after the URLs; a network that fails between them shows only in the URLs: many
// of them failing together, the control unreachable too, then loading again. Such
// a run is partly shut down whatever the two checks saw.
const (
	// urlPhaseWindow bins URL results by the time they ended: five seconds hold
	// several URLs at any parallelism, and are shorter than the off windows of a
	// network that flips with a period of ten seconds or more.
	urlPhaseWindow = 5 * time.Second
	// urlPhaseMinURLs is the least number of URLs a window needs to say anything.
	urlPhaseMinURLs = 4
	// urlPhaseDownShare: a window is down when at least this share of its URLs
	// failed with the control unreachable too. A censor blocks URLs while the
	// helper stays reachable; only the network going away takes both.
	urlPhaseDownShare = 0.8
	// urlPhaseUpShare: a window is up when at least this share of its URLs loaded.
	urlPhaseUpShare = 0.5
)

// ReasonURLsFailedTogether is URLPhase.Reason when URLs failed together and
// recovered.
const ReasonURLsFailedTogether = "urls_failed_together"

// controlReport is implemented by URL test keys that know whether the control
// helper answered (web_connectivity's do).
type controlReport interface {
	ControlReached() bool
}

// urlOutcome is one URL result placed in time.
type urlOutcome struct {
	end           time.Time
	loaded        bool // ok or throttled
	networkFailed bool // did not load, and the control was unreachable too
}

// outcomeOf places a URL measurement in time; false when it cannot.
func outcomeOf(meas *report.Measurement, ur nettests.URLResult) (urlOutcome, bool) {
	start, err := time.Parse(report.TimeFormat, meas.MeasurementStartTime)
	if err != nil {
		return urlOutcome{}, false
	}
	verdict, _ := ur.URLVerdict()
	o := urlOutcome{end: start.Add(time.Duration(meas.TestRuntime * float64(time.Second)))}
	o.loaded = verdict == nettests.VerdictOK || verdict == nettests.VerdictThrottled
	if cr, ok := ur.(controlReport); ok && !o.loaded {
		o.networkFailed = !cr.ControlReached()
	}
	return o, true
}

// URLPhase is what the URL results say of the network (summary "url_phase").
type URLPhase struct {
	// Verdict is partial_shutdown when a window of URLs failed together (control
	// included) and another loaded; "" when the URLs say nothing of the network.
	Verdict string        `json:"verdict,omitempty"`
	Reason  string        `json:"reason,omitempty"`
	Windows []PhaseWindow `json:"windows"`
}

// PhaseWindow is one window of URL results.
type PhaseWindow struct {
	Start         float64 `json:"start"` // seconds after the first URL ended
	URLs          int     `json:"urls"`
	Loaded        int     `json:"loaded"`
	NetworkFailed int     `json:"network_failed"`
	State         string  `json:"state,omitempty"` // up, down or "" (mixed or too few)
}

// judgeURLPhase bins outcomes into windows and looks for a down window beside an
// up one.
func judgeURLPhase(outcomes []urlOutcome) *URLPhase {
	p := &URLPhase{Windows: []PhaseWindow{}}
	if len(outcomes) == 0 {
		return p
	}
	sorted := slices.Clone(outcomes)
	slices.SortFunc(sorted, func(a, b urlOutcome) int { return a.end.Compare(b.end) })
	first := sorted[0].end
	for _, o := range sorted {
		i := int(o.end.Sub(first) / urlPhaseWindow)
		for len(p.Windows) <= i {
			p.Windows = append(p.Windows, PhaseWindow{Start: (time.Duration(len(p.Windows)) * urlPhaseWindow).Seconds()})
		}
		w := &p.Windows[i]
		w.URLs++
		if o.loaded {
			w.Loaded++
		}
		if o.networkFailed {
			w.NetworkFailed++
		}
	}
	up, down := false, false
	for i := range p.Windows {
		w := &p.Windows[i]
		switch {
		case w.URLs < urlPhaseMinURLs:
		case float64(w.NetworkFailed) >= urlPhaseDownShare*float64(w.URLs):
			w.State, down = "down", true
		case float64(w.Loaded) >= urlPhaseUpShare*float64(w.URLs):
			w.State, up = "up", true
		}
	}
	if up && down {
		p.Verdict, p.Reason = nettests.NetworkPartialShutdown, ReasonURLsFailedTogether
	}
	return p
}

// runNetworkVerdict combines the checks before and after the URLs with the URL
// phase: partial_shutdown when any of them saw it while the others saw the network
// up (online, throttled) or nothing; otherwise the check before the URLs, the
// verdict every URL was measured under.
func runNetworkVerdict(before, after string, phase *URLPhase) string {
	partial := false
	for _, v := range []string{before, after, phase.Verdict} {
		switch v {
		case nettests.NetworkPartialShutdown:
			partial = true
		case "", nettests.NetworkOnline, nettests.NetworkThrottled:
		default:
			return before // a shutdown, an allowlist or a local failure says more
		}
	}
	if partial {
		return nettests.NetworkPartialShutdown
	}
	return before
}
