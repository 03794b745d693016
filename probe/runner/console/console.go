// Package console shows a run to a person or a script: a progress bar with an ETA,
// measurements as JSON lines, and a readable summary, with colours only where a
// terminal shows them.
package console

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/vantage-probe/vantage/probe/runner"
	"github.com/vantage-probe/vantage/report"
)

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return f != nil && term.IsTerminal(int(f.Fd())) }

// ColorEnabled says whether to colour output written to f: only on a terminal,
// never when NO_COLOR is set to anything (https://no-color.org) or TERM is dumb.
func ColorEnabled(f *os.File, getenv func(string) string) bool {
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	return IsTerminal(f)
}

// phaseText names the run's phases for people.
var phaseText = map[string]string{
	"connectivity_before": "checking the network",
	"urls":                "measuring sites",
	"connectivity_after":  "checking the network again",
	"upload":              "uploading",
}

// progressThrottle limits redraws: a bar redrawn on every result would flicker and
// cost more than it shows.
const progressThrottle = 100 * time.Millisecond

// Progress is a runner.Observer that draws a progress bar with count and ETA.
type Progress struct {
	w     io.Writer
	color bool
	bar   *progressbar.ProgressBar
}

var _ runner.Observer = (*Progress)(nil)

// NewProgress draws on w (the terminal's stderr).
func NewProgress(w io.Writer, color bool) *Progress { return &Progress{w: w, color: color} }

// Phase implements runner.Observer.
func (p *Progress) Phase(name string) {
	text := phaseText[name]
	if text == "" {
		text = name
	}
	if p.bar != nil && name == "urls" {
		p.bar.Describe(text)
		return
	}
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
		p.bar = nil
	}
	fmt.Fprintf(p.w, "%s...\n", text)
}

// Planned implements runner.Observer: it starts the bar.
func (p *Progress) Planned(n int) {
	p.bar = progressbar.NewOptions(n,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(phaseText["urls"]),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionEnableColorCodes(p.color),
		progressbar.OptionThrottle(progressThrottle),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetRenderBlankState(true),
	)
}

// Completed implements runner.Observer.
func (p *Progress) Completed(string) {
	if p.bar != nil {
		_ = p.bar.Add(1)
	}
}

// Saved implements runner.Observer.
func (p *Progress) Saved(*report.Measurement, []byte) {}

// Close ends the bar, leaving the cursor on a fresh line.
func (p *Progress) Close() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
		p.bar = nil
	}
}

// JSONLines is a runner.Observer that writes every saved measurement as one line.
type JSONLines struct{ W io.Writer }

var _ runner.Observer = JSONLines{}

// Phase implements runner.Observer.
func (JSONLines) Phase(string) {}

// Planned implements runner.Observer.
func (JSONLines) Planned(int) {}

// Completed implements runner.Observer.
func (JSONLines) Completed(string) {}

// Saved implements runner.Observer: the canonical measurement, then a newline.
func (j JSONLines) Saved(_ *report.Measurement, line []byte) {
	_, _ = j.W.Write(append(line[:len(line):len(line)], '\n'))
}

// WriteSummaryLine writes the last line of --json: {"summary":{...}}.
func WriteSummaryLine(w io.Writer, s *runner.Summary) error {
	b, err := json.Marshal(map[string]*runner.Summary{"summary": s})
	if err != nil {
		return fmt.Errorf("console: summary: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// Multi sends every event to each observer in turn.
type Multi []runner.Observer

var _ runner.Observer = Multi{}

// Phase implements runner.Observer.
func (m Multi) Phase(name string) {
	for _, o := range m {
		o.Phase(name)
	}
}

// Planned implements runner.Observer.
func (m Multi) Planned(n int) {
	for _, o := range m {
		o.Planned(n)
	}
}

// Completed implements runner.Observer.
func (m Multi) Completed(in string) {
	for _, o := range m {
		o.Completed(in)
	}
}

// Saved implements runner.Observer.
func (m Multi) Saved(meas *report.Measurement, line []byte) {
	for _, o := range m {
		o.Saved(meas, line)
	}
}
