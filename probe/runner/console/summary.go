package console

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/runner"
)

// ANSI colours of the summary.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

// networkText explains each network verdict in a sentence.
var networkText = map[string]string{
	nettests.NetworkOnline:          "online: canaries at home and abroad answer",
	nettests.NetworkFullShutdown:    "FULL SHUTDOWN: the local network works but almost nothing beyond it answers",
	nettests.NetworkPartialShutdown: "PARTIAL SHUTDOWN: only part of the attempts get through, or reachability flips",
	nettests.NetworkWhitelist:       "ALLOWLIST: domestic sites answer, foreign ones do not",
	nettests.NetworkLocalFailure:    "local failure: no usable link, route or first hop (not censorship)",
	nettests.NetworkThrottled:       "THROTTLED: reachable, but network-wide throughput collapsed",
}

// Summary prints a run's summary for a person: the network verdict first, then the
// blocked sites grouped by method, then the other verdicts counted.
func Summary(w io.Writer, s *runner.Summary, color bool) {
	paint := func(code, text string) string {
		if !color {
			return text
		}
		return code + text + ansiReset
	}
	fmt.Fprintln(w, paint(ansiBold, "Network: ")+networkLine(s, paint))
	if s.NetworkVerdictAfter != "" && s.NetworkVerdictAfter != s.NetworkVerdict {
		fmt.Fprintf(w, "  after the sites: %s\n", networkText[s.NetworkVerdictAfter])
	}
	if n := s.URLs[nettests.VerdictBlocked]; n > 0 {
		fmt.Fprintln(w, paint(ansiRed+ansiBold, fmt.Sprintf("Blocked: %d %s", n, plural(n, "site"))))
		writeGroups(w, s.Blocked)
	} else if s.URLCount() > s.URLs[nettests.VerdictInconclusive] {
		fmt.Fprintln(w, paint(ansiGreen, "Blocked: none"))
	}
	if n := s.URLs[nettests.VerdictIntermittent]; n > 0 {
		fmt.Fprintln(w, paint(ansiYellow, fmt.Sprintf("Intermittent: %d %s", n, plural(n, "site"))))
		writeGroups(w, s.Intermittent)
	}
	var rest []string
	for _, v := range []string{nettests.VerdictOK, nettests.VerdictThrottled, nettests.VerdictDown, nettests.VerdictInconclusive} {
		if n := s.URLs[v]; n > 0 {
			rest = append(rest, fmt.Sprintf("%d %s", n, v))
		}
	}
	if len(rest) > 0 {
		fmt.Fprintf(w, "Other sites: %s\n", strings.Join(rest, ", "))
	}
	ServiceBlock(w, s, paint)
	fmt.Fprintf(w, "%d %s in %s, run %d (details: vantage results show %d)\n", s.Measurements,
		plural(s.Measurements, "measurement"), formatSeconds(s.DurationS), s.RunID, s.RunID)
	switch {
	case s.Uploaded:
		fmt.Fprintln(w, "Uploaded to the collector.")
	case s.UploadError != "":
		fmt.Fprintln(w, "Not uploaded yet (kept for the next run or `vantage upload`): "+s.UploadError)
	}
}

func networkLine(s *runner.Summary, paint func(string, string) string) string {
	v := s.NetworkVerdict
	if v == "" {
		return "not checked"
	}
	text := networkText[v]
	if text == "" {
		text = v
	}
	if v == nettests.NetworkOnline {
		return paint(ansiGreen, text)
	}
	if v == nettests.NetworkLocalFailure {
		return paint(ansiYellow, text)
	}
	return paint(ansiRed+ansiBold, text)
}

func writeGroups(w io.Writer, groups map[string][]string) {
	methods := make([]string, 0, len(groups))
	for m := range groups {
		methods = append(methods, m)
	}
	// Largest group first: that is how this network blocks most.
	sort.Slice(methods, func(i, j int) bool {
		if len(groups[methods[i]]) != len(groups[methods[j]]) {
			return len(groups[methods[i]]) > len(groups[methods[j]])
		}
		return methods[i] < methods[j]
	})
	for _, m := range methods {
		name := m
		if name == "" {
			name = "(method unknown)"
		}
		fmt.Fprintf(w, "  %s (%d)\n", name, len(groups[m]))
		for _, u := range groups[m] {
			fmt.Fprintf(w, "    %s\n", u)
		}
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func formatSeconds(s float64) string {
	if s < 60 {
		return fmt.Sprintf("%.1fs", s)
	}
	return fmt.Sprintf("%dm%02ds", int(s)/60, int(s)%60)
}
