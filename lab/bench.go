//go:build linux

package lab

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/vantage-probe/vantage/nettests"
)

// BenchConfig shapes the lab benchmark: URLs sites, of which a share is
// black-holed (ip.drop), a share reset (tcp.reset) and the rest clean.
type BenchConfig struct {
	URLs       int
	Blackholed float64
	Reset      float64
	// Parallelism sets the probe's [run] parallelism; 0 keeps its default.
	Parallelism int
}

// DefaultBench is the benchmark of issue 5: 1,000 URLs, 30 % black-holed, 10 % reset.
var DefaultBench = BenchConfig{URLs: 1000, Blackholed: 0.30, Reset: 0.10}

// benchBase is the first address of the benchmark's sites (foreign range).
var benchBase = netip.MustParseAddr("45.60.100.0")

// maxBenchURLs keeps the sites inside the foreign range.
const maxBenchURLs = 20000

// BenchScenario builds the benchmark as a scenario. Sites are interleaved
// (clean, black-holed and reset sites alternate through the list) so that a
// probe measuring in list order meets every kind throughout the run.
func BenchScenario(c BenchConfig) (*Scenario, error) {
	if c.URLs <= 0 || c.URLs > maxBenchURLs || c.Blackholed < 0 || c.Reset < 0 || c.Blackholed+c.Reset > 1 {
		return nil, fmt.Errorf("lab: bench: bad configuration %+v", c)
	}
	sc := &Scenario{
		Name:        "bench",
		Description: fmt.Sprintf("%d URLs, %.0f %% black-holed, %.0f %% reset, the rest clean", c.URLs, c.Blackholed*100, c.Reset*100),
		Command:     "run",
		Network:     nettests.NetworkOnline,
		Resolver:    "isp",
		Run:         RunSettings{Parallelism: c.Parallelism},
	}
	drop := Block{Kind: "ip.drop"}
	reset := Block{Kind: "tcp.reset"}
	nDrop, nReset := int(float64(c.URLs)*c.Blackholed+0.5), int(float64(c.URLs)*c.Reset+0.5)
	addr := benchBase
	rest, j := c.URLs-nDrop, 0 // j counts the sites that are not black-holed
	for i := 0; i < c.URLs; i++ {
		name := fmt.Sprintf("s%05d.bench.vlab", i)
		sc.Sites = append(sc.Sites, Site{Name: name, Addr: addr})
		addr = addr.Next()
		u := ExpectURL{URL: "https://" + name + "/", Verdict: nettests.VerdictOK}
		// Bresenham-style spreading: site i is black-holed when the running
		// count of black-holed sites should step up at i.
		switch {
		case (i+1)*nDrop/c.URLs > i*nDrop/c.URLs:
			drop.Targets = append(drop.Targets, name)
			u.Verdict, u.Method = nettests.VerdictBlocked, nettests.MethodTCPTimeout
		case (j+1)*nReset/rest > j*nReset/rest:
			reset.Targets = append(reset.Targets, name)
			u.Verdict, u.Method = nettests.VerdictBlocked, nettests.MethodTCPReset
			j++
		default:
			j++
		}
		sc.URLs = append(sc.URLs, u)
	}
	for _, b := range []Block{drop, reset} {
		if len(b.Targets) > 0 {
			sc.Censor = append(sc.Censor, b)
		}
	}
	return sc, sc.validate()
}

// BenchResult are the benchmark's figures.
type BenchResult struct {
	URLs      int
	Correct   int
	Wall      time.Duration
	MaxRSSKiB int64
	Network   string
	// Measured counts the URLs the probe printed a measurement for.
	Measured int
	// Wrong counts the wrong verdicts by "expected -> got".
	Wrong  map[string]int
	Result *Result
}

// Accuracy is the share of URL verdicts that matched.
func (b *BenchResult) Accuracy() float64 {
	if b.URLs == 0 {
		return 0
	}
	return float64(b.Correct) / float64(b.URLs)
}

// String renders the figures on one line.
func (b *BenchResult) String() string {
	s := fmt.Sprintf("%d URLs in %v, peak RSS %.1f MiB, %d/%d verdicts right (%.1f %%), network %s",
		b.URLs, b.Wall.Round(100*time.Millisecond), float64(b.MaxRSSKiB)/1024, b.Correct, b.URLs, 100*b.Accuracy(), orNone(b.Network))
	if b.Result.Probe.TimedOut {
		s += fmt.Sprintf(" (probe killed at the time bound after measuring %d URLs)", b.Measured)
	}
	keys := make([]string, 0, len(b.Wrong))
	for k := range b.Wrong {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s += fmt.Sprintf("\n  %4d × %s", b.Wrong[k], k)
	}
	return s
}

// RunBench runs the benchmark scenario and measures the probe.
func RunBench(ctx context.Context, c BenchConfig, opts Options) (*BenchResult, error) {
	sc, err := BenchScenario(c)
	if err != nil {
		return nil, err
	}
	res, err := RunScenario(ctx, sc, opts)
	if err != nil {
		return nil, err
	}
	br := &BenchResult{URLs: len(res.URLs), Wall: res.Probe.Wall, MaxRSSKiB: res.Probe.MaxRSSKiB, Network: res.NetworkGot,
		Result: res, Wrong: map[string]int{}}
	for _, u := range res.URLs {
		if u.OK {
			br.Correct++
		} else {
			br.Wrong[u.Expected+" -> "+u.Got]++
		}
		if _, ok := res.Probe.URLMeasurement(u.URL); ok {
			br.Measured++
		}
	}
	return br, nil
}
