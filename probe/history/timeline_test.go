package history

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
)

func at(day, hour, minute int) time.Time {
	return time.Date(2022, time.January, day, hour, minute, 0, 0, time.UTC)
}

// january2022 is a synthetic probe in Almaty checking every 30 minutes, following
// the published timeline (detection-methods.md §1.1): blackout from about 10:30 UTC
// on 5 January, a 3-hour restoration early on 6 January, a partial window around
// noon, the probe switched off for a morning, then the allowlist phase with a
// curfew (23:00–07:00 local, 17:00–01:00 UTC), and the return on 10 January.
func january2022() []Point {
	phases := []struct {
		start, end time.Time
		verdict    string
	}{
		{at(5, 9, 0), at(5, 10, 30), nettests.NetworkOnline},
		{at(5, 10, 30), at(6, 0, 0), nettests.NetworkFullShutdown},
		{at(6, 0, 0), at(6, 3, 0), nettests.NetworkOnline},
		{at(6, 3, 0), at(6, 12, 0), nettests.NetworkFullShutdown},
		{at(6, 12, 0), at(6, 14, 0), nettests.NetworkPartialShutdown},
		{at(6, 14, 0), at(7, 6, 0), nettests.NetworkFullShutdown},
		// 7 January 06:00–12:00: the probe is off, no checks.
		{at(7, 12, 0), at(8, 1, 0), nettests.NetworkFullShutdown},
		{at(8, 1, 0), at(8, 17, 0), nettests.NetworkWhitelist},
		{at(8, 17, 0), at(9, 1, 0), nettests.NetworkFullShutdown},
		{at(9, 1, 0), at(9, 17, 0), nettests.NetworkWhitelist},
		{at(9, 17, 0), at(10, 1, 0), nettests.NetworkFullShutdown},
		{at(10, 1, 0), at(10, 6, 0), nettests.NetworkOnline},
	}
	var out []Point
	for _, p := range phases {
		for t := p.start; t.Before(p.end); t = t.Add(30 * time.Minute) {
			out = append(out, Point{Time: t, Verdict: p.verdict})
		}
	}
	return out
}

func TestWindowsJanuary2022(t *testing.T) {
	points := january2022()
	// The store returns rows in time order, but the merge must not depend on it.
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(points), func(i, j int) { points[i], points[j] = points[j], points[i] })
	got := Windows(points, DefaultMaxGap)
	// Worked out by hand from the phases: a window ends at the first check of the
	// next one; the window before the silence ends at its last check (05:30).
	want := []Window{
		{at(5, 9, 0), at(5, 10, 30), nettests.NetworkOnline, 3},
		{at(5, 10, 30), at(6, 0, 0), nettests.NetworkFullShutdown, 27},
		{at(6, 0, 0), at(6, 3, 0), nettests.NetworkOnline, 6},
		{at(6, 3, 0), at(6, 12, 0), nettests.NetworkFullShutdown, 18},
		{at(6, 12, 0), at(6, 14, 0), nettests.NetworkPartialShutdown, 4},
		{at(6, 14, 0), at(7, 5, 30), nettests.NetworkFullShutdown, 32},
		{at(7, 5, 30), at(7, 12, 0), NoData, 0},
		{at(7, 12, 0), at(8, 1, 0), nettests.NetworkFullShutdown, 26},
		{at(8, 1, 0), at(8, 17, 0), nettests.NetworkWhitelist, 32},
		{at(8, 17, 0), at(9, 1, 0), nettests.NetworkFullShutdown, 16},
		{at(9, 1, 0), at(9, 17, 0), nettests.NetworkWhitelist, 32},
		{at(9, 17, 0), at(10, 1, 0), nettests.NetworkFullShutdown, 16},
		{at(10, 1, 0), at(10, 5, 30), nettests.NetworkOnline, 10},
	}
	if len(got) != len(want) {
		t.Fatalf("%d windows, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !got[i].Start.Equal(want[i].Start) || !got[i].End.Equal(want[i].End) || got[i].Verdict != want[i].Verdict || got[i].Checks != want[i].Checks {
			t.Errorf("window %d: got %v–%v %s (%d checks), want %v–%v %s (%d)", i,
				got[i].Start, got[i].End, got[i].Verdict, got[i].Checks, want[i].Start, want[i].End, want[i].Verdict, want[i].Checks)
		}
	}
}

func TestWindowsEdges(t *testing.T) {
	if w := Windows(nil, DefaultMaxGap); len(w) != 0 {
		t.Fatalf("no points: %v", w)
	}
	one := Windows([]Point{{at(5, 9, 0), nettests.NetworkOnline}}, DefaultMaxGap)
	if len(one) != 1 || !one[0].Start.Equal(one[0].End) || one[0].Checks != 1 {
		t.Fatalf("one point: %+v", one)
	}
	// Equal verdicts across a silence are still split: nothing is known in between.
	split := Windows([]Point{{at(5, 9, 0), nettests.NetworkOnline}, {at(5, 15, 0), nettests.NetworkOnline}}, DefaultMaxGap)
	if len(split) != 3 || split[1].Verdict != NoData {
		t.Fatalf("silence not shown: %+v", split)
	}
}
