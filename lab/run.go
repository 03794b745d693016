//go:build linux

package lab

import (
	"context"
	"errors"

	"fmt"
	"github.com/vantage-probe/vantage/nettests"
	"strings"
	"text/tabwriter"
	"time"
)

// DefaultProbeTimeout bounds one probe run in a scenario: every blocked step of
// every URL timing out, plus the connectivity checks before and after.
const DefaultProbeTimeout = 4 * time.Minute

// Options tune RunScenario.
type Options struct {
	// Binary is the vantage executable run as probe and as control helper.
	Binary string
	// ProbeTimeout bounds the probe run; DefaultProbeTimeout when zero.
	ProbeTimeout time.Duration
	// Log, when set, receives progress lines (lab built, probe started, ...).
	Log func(format string, args ...any)
}

// URLOutcome compares one URL's verdict with the expectation.
type URLOutcome struct {
	URL      string
	Expected string
	Got      string
	Evidence string
	OK       bool
}

// Result is a scenario's outcome.
type Result struct {
	Scenario        string
	URLs            []URLOutcome
	NetworkExpected string
	NetworkGot      string
	// NetworkEvidence is the last connectivity measurement's reason and evidence.
	NetworkEvidence string
	Probe           *ProbeRun
}

// Passed reports whether every verdict matched.
func (r *Result) Passed() bool {
	if r.NetworkGot != r.NetworkExpected || (r.Probe != nil && r.Probe.TimedOut) {
		return false
	}
	for _, u := range r.URLs {
		if !u.OK {
			return false
		}
	}
	return true
}

// Diff lists every mismatch, one block per verdict: scenario, URL, expected, got
// and the probe's evidence.
func (r *Result) Diff() string {
	var b strings.Builder
	if r.Probe != nil && r.Probe.TimedOut {
		fmt.Fprintf(&b, "scenario %s: the probe did not finish within %v (killed)\n", r.Scenario, r.Probe.Wall.Round(time.Second))
	}
	if r.NetworkGot != r.NetworkExpected {
		fmt.Fprintf(&b, "scenario %s: network verdict\n  expected: %s\n  got:      %s\n", r.Scenario, r.NetworkExpected, orNone(r.NetworkGot))
		if r.NetworkEvidence != "" {
			fmt.Fprintf(&b, "  evidence: %s\n", r.NetworkEvidence)
		}
	}
	for _, u := range r.URLs {
		if u.OK {
			continue
		}
		fmt.Fprintf(&b, "scenario %s: %s\n  expected: %s\n  got:      %s\n", r.Scenario, u.URL, u.Expected, u.Got)
		if u.Evidence != "" {
			fmt.Fprintf(&b, "  evidence: %s\n", u.Evidence)
		}
	}
	if b.Len() > 0 && r.Probe != nil && r.Probe.ExitCode != 0 {
		fmt.Fprintf(&b, "  probe exit code %d; stderr: %s\n", r.Probe.ExitCode, tail(r.Probe.Stderr, 600))
	}
	return b.String()
}

// Table renders every verdict against its expectation.
func (r *Result) Table() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "\tTARGET\tEXPECTED\tGOT\n")
	fmt.Fprintf(tw, "%s\tnetwork\t%s\t%s\n", mark(r.NetworkGot == r.NetworkExpected), r.NetworkExpected, orNone(r.NetworkGot))
	for _, u := range r.URLs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mark(u.OK), u.URL, u.Expected, u.Got)
	}
	tw.Flush()
	return b.String()
}

func mark(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// RunScenario builds the scenario's network, starts the control helper, applies
// the censor, runs the probe inside and compares its verdicts with the
// expectations. The lab is torn down before it returns, also when ctx is
// cancelled.
func RunScenario(ctx context.Context, sc *Scenario, opts Options) (res *Result, err error) {
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if opts.Binary == "" {
		return nil, fmt.Errorf("lab: no vantage binary to run")
	}
	l, err := Build(ctx, sc.Sites)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := l.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	logf("%s: lab %s built", sc.Name, l.Topology.Prefix)
	if err := l.startHelper(ctx, opts.Binary); err != nil {
		return nil, err
	}
	if err := l.mountServices(); err != nil {
		return nil, err
	}
	if err := l.Apply(ctx, sc.Censor); err != nil {
		return nil, err
	}
	logf("%s: censor applied (%d blocks), running the probe", sc.Name, len(sc.Censor))
	timeout := opts.ProbeTimeout
	if timeout == 0 {
		timeout = DefaultProbeTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	urls := make([]string, len(sc.URLs))
	for i, u := range sc.URLs {
		urls[i] = u.URL
	}
	pr, err := l.RunProbe(pctx, opts.Binary, sc, urls)
	if err != nil && pr != nil && ctx.Err() == nil && errors.Is(pctx.Err(), context.DeadlineExceeded) {
		// The probe overran its bound: compare what it measured so far, so that
		// the diff shows which URLs it never finished.
		logf("%s: probe killed after %v", sc.Name, timeout)
		pr.TimedOut = true
		return compare(sc, pr), nil
	}
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	logf("%s: probe done in %v", sc.Name, pr.Wall.Round(time.Millisecond))
	return compare(sc, pr), nil
}

// compare matches the probe's verdicts with the scenario's expectations.
func compare(sc *Scenario, pr *ProbeRun) *Result {
	r := &Result{Scenario: sc.Name, NetworkExpected: sc.Network, NetworkGot: pr.NetworkVerdict, Probe: pr}
	for _, m := range pr.Measurements {
		if m.TestName == "connectivity" {
			r.NetworkEvidence = "reason " + orNone(m.TestKeys.Reason) + ": " + truncate(string(m.TestKeys.Evidence), 600)
		}
	}
	for _, e := range sc.URLs {
		o := URLOutcome{URL: e.URL, Expected: e.Expected()}
		m, ok := pr.URLMeasurement(e.URL)
		if !ok {
			o.Got = "(no measurement)"
			r.URLs = append(r.URLs, o)
			continue
		}
		k := m.TestKeys
		o.Got = k.Verdict
		if k.Method != "" {
			o.Got += " " + k.Method
		}
		if k.Reason != "" {
			o.Got += " (" + k.Reason + ")"
		}
		if len(k.Evidence) > 0 && string(k.Evidence) != "null" {
			o.Evidence = truncate(string(k.Evidence), 400)
		}
		o.OK = e.Accepts(k.Verdict) && e.detailMatches(k.Verdict, k.Method, k.Reason)
		r.URLs = append(r.URLs, o)
	}
	compareServices(sc, pr, r)
	return r
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// detailMatches checks the method of a blocked or intermittent verdict and the
// reason of an inconclusive one, when the expectation names them.
func (e ExpectURL) detailMatches(verdict, method, reason string) bool {
	switch verdict {
	case nettests.VerdictBlocked, nettests.VerdictIntermittent:
		return e.Method == "" || e.Method == method
	case nettests.VerdictInconclusive:
		return e.Reason == "" || e.Reason == reason
	default:
		return method == ""
	}
}
