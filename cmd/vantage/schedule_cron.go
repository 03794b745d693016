package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"
)

// cronMarker ends the crontab line vantage manages, so that --install replaces its
// own line, --remove removes it, and both leave the others alone.
const cronMarker = "# vantage-schedule"

func (p *schedulePlan) cronLine() string {
	hours := "*"
	switch h := p.hours(); {
	case h == 24:
		hours = fmt.Sprint(p.hour)
	case h > 1:
		hours = fmt.Sprintf("%d-23/%d", p.firstHour(), h)
	}
	job := p.command() + " >>" + shellQuote(p.logPath) + " 2>&1"
	return fmt.Sprintf("%d %s * * * %s %s", p.minute, hours, cronEscape(job), cronMarker)
}

// cronEscape escapes %, which cron turns into a newline (and everything after
// it into the command's stdin) in the command field, crontab(5).
func cronEscape(s string) string { return strings.ReplaceAll(s, "%", `\%`) }

func scheduleCron(cmd *cobra.Command, plan *schedulePlan, install bool) error {
	line := plan.cronLine()
	if !install {
		fmt.Fprintln(cmd.OutOrStdout(), line)
		fmt.Fprintln(cmd.ErrOrStderr(), "# add it with 'crontab -e', or run: vantage schedule --install")
		return nil
	}
	kept, _, err := crontabWithout()
	if err != nil {
		return err
	}
	if err := writeCrontab(append(kept, line)); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "installed in your crontab:\n%s\nlog: %s\n", line, plan.logPath)
	return nil
}

// crontabWithout reads the user's crontab and returns its lines without vantage's,
// and whether vantage's was there.
func crontabWithout() (kept []string, found bool, err error) {
	current, err := exec.Command("crontab", "-l").Output()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) { // exit 1 is "no crontab for user": start empty
			return nil, false, fmt.Errorf("schedule: crontab -l: %w", err)
		}
		current = nil
	}
	for _, l := range strings.Split(strings.TrimRight(string(current), "\n"), "\n") {
		switch {
		case strings.HasSuffix(l, cronMarker):
			found = true
		case l != "":
			kept = append(kept, l)
		}
	}
	return kept, found, nil
}

func writeCrontab(lines []string) error {
	crontab := exec.Command("crontab", "-")
	crontab.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := crontab.CombinedOutput(); err != nil {
		return fmt.Errorf("schedule: crontab -: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// removeCron removes vantage's line; a crontab left empty is removed whole
// (crontab -r), so that nothing of vantage's stays in the spool.
func removeCron(string) ([]string, error) {
	if _, err := exec.LookPath("crontab"); err != nil {
		return nil, nil
	}
	kept, found, err := crontabWithout()
	if err != nil || !found {
		return nil, err
	}
	if len(kept) == 0 {
		if out, err := exec.Command("crontab", "-r").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("schedule: crontab -r: %w: %s", err, bytes.TrimSpace(out))
		}
		return []string{"the crontab line (the crontab held nothing else: removed)"}, nil
	}
	if err := writeCrontab(kept); err != nil {
		return nil, err
	}
	return []string{"the crontab line"}, nil
}
