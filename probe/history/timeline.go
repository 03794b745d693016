package history

import (
	"sort"
	"time"
)

// NoData is the verdict of a timeline window where the probe made no check.
const NoData = "no_data"

// DefaultMaxGap is the longest silence between two checks that still joins them in
// one window: a scheduled probe checks at least hourly, so two hours without a check
// means the probe itself was off, and the timeline must not guess what happened.
const DefaultMaxGap = 2 * time.Hour

// Point is one stored check.
type Point struct {
	Time    time.Time
	Verdict string
}

// Window is a stretch of consecutive checks with the same verdict.
type Window struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Verdict string    `json:"verdict"`
	Checks  int       `json:"checks"`
}

// Windows merges checks into windows of one verdict, in time order. A window ends
// where the next begins (the change happened somewhere in between, and the first
// check that saw it is the earliest proof); the last window, and a window followed
// by a silence longer than maxGap, end at their last check. A silence longer than
// maxGap becomes a NoData window, so that a curfew rhythm is not confused with the
// probe being switched off.
func Windows(points []Point, maxGap time.Duration) []Window {
	ps := append([]Point{}, points...)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Time.Before(ps[j].Time) })
	var out []Window
	for i, p := range ps {
		if i > 0 && p.Time.Sub(ps[i-1].Time) > maxGap {
			out[len(out)-1].End = ps[i-1].Time
			out = append(out, Window{Start: ps[i-1].Time, End: p.Time, Verdict: NoData})
			out = append(out, Window{Start: p.Time, End: p.Time, Verdict: p.Verdict, Checks: 1})
			continue
		}
		if n := len(out); n > 0 && out[n-1].Verdict == p.Verdict {
			out[n-1].End = p.Time
			out[n-1].Checks++
			continue
		}
		if n := len(out); n > 0 {
			out[n-1].End = p.Time
		}
		out = append(out, Window{Start: p.Time, End: p.Time, Verdict: p.Verdict, Checks: 1})
	}
	return out
}
