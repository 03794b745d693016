package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// launchdLabel names vantage's launch agent (reverse-DNS, as launchd.plist(5) asks).
const launchdLabel = "org.vantage-probe.vantage"

// launchdPath is where the agent goes: the user's ~/Library/LaunchAgents.
func launchdPath() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("schedule: %w", err)
	}
	return filepath.Join(home, "Library", "LaunchAgents", launchdLabel+".plist"), nil
}

// launchdPlist is a launch agent that runs at the plan's minute of each run hour.
// launchd starts a calendar job missed while the Mac slept at the next wake
// (launchd.plist(5), StartCalendarInterval), the catch-up systemd's Persistent=
// gives; stdout and stderr go to the batch log.
func (p *schedulePlan) launchdPlist() string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + launchdLabel + `</string>
	<key>ProgramArguments</key>
	<array>
`)
	for _, a := range append([]string{p.binary}, p.args()...) {
		b.WriteString("\t\t<string>" + xmlText(a) + "</string>\n")
	}
	b.WriteString("\t</array>\n\t<key>StartCalendarInterval</key>\n")
	if p.hours() == 1 {
		fmt.Fprintf(&b, "\t<dict>\n\t\t<key>Minute</key>\n\t\t<integer>%d</integer>\n\t</dict>\n", p.minute)
	} else {
		b.WriteString("\t<array>\n")
		for _, h := range p.runHours() {
			fmt.Fprintf(&b, "\t\t<dict>\n\t\t\t<key>Hour</key>\n\t\t\t<integer>%d</integer>\n\t\t\t<key>Minute</key>\n\t\t\t<integer>%d</integer>\n\t\t</dict>\n", h, p.minute)
		}
		b.WriteString("\t</array>\n")
	}
	b.WriteString(`	<key>StandardOutPath</key>
	<string>` + xmlText(p.logPath) + `</string>
	<key>StandardErrorPath</key>
	<string>` + xmlText(p.logPath) + `</string>
	<key>ProcessType</key>
	<string>Background</string>
	<key>LowPriorityIO</key>
	<true/>
</dict>
</plist>
`)
	return b.String()
}

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func installLaunchd(out io.Writer, plan *schedulePlan) error {
	path, err := launchdPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	if err := os.WriteFile(path, []byte(plan.launchdPlist()), 0o644); err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	fmt.Fprintf(out, "wrote %s\n", path)
	// Unload first so that a second --install replaces the loaded agent.
	_ = exec.Command("launchctl", "unload", path).Run()
	if b, err := exec.Command("launchctl", "load", "-w", path).CombinedOutput(); err != nil {
		return fmt.Errorf("schedule: launchctl load -w %s: %w: %s", path, err, bytes.TrimSpace(b))
	}
	fmt.Fprintf(out, "loaded %s; see it with: launchctl list %s\n", launchdLabel, launchdLabel)
	return nil
}

func removeLaunchd(string) ([]string, error) {
	path, err := launchdPath()
	if err != nil {
		return nil, nil
	}
	if _, err := os.Stat(path); err != nil {
		return nil, nil
	}
	if _, err := exec.LookPath("launchctl"); err == nil {
		_ = exec.Command("launchctl", "unload", "-w", path).Run()
	}
	if err := os.Remove(path); err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	return []string{path}, nil
}
