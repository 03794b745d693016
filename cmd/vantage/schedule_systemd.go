package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Unit names of the systemd service and timer.
const (
	unitService = "vantage.service"
	unitTimer   = "vantage.timer"
)

// systemdEscape doubles %, which systemd reads as the start of a specifier
// (%h, %u, ...) in ExecStart and path settings, systemd.unit(5) "Specifiers".
func systemdEscape(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// serviceUnit is the service the timer starts. system is true for units installed
// as root in /etc/systemd/system: the mount-namespace hardening (ProtectSystem,
// ProtectHome, PrivateTmp, ...) needs the system manager, and a user manager
// without unprivileged user namespaces fails the unit over it, so user units get
// the settings that only filter system calls and privileges.
func (p *schedulePlan) serviceUnit(system bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, `[Unit]
Description=vantage censorship and shutdown measurement run
Documentation=https://github.com/vantage-probe/vantage
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=%s
# 3: the previous run still holds the lock; not a failure.
SuccessExitStatus=3
Nice=10
IOSchedulingClass=idle
NoNewPrivileges=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictNamespaces=yes
SystemCallArchitectures=native
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
`, systemdEscape(p.command()))
	if system {
		fmt.Fprintf(&b, `ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths=%s %s
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
CapabilityBoundingSet=
`, systemdPath(filepath.Dir(p.logPath)), systemdPath(filepath.Dir(p.configPath)))
	}
	return b.String()
}

// systemdPath quotes a path for a space-separated path list setting; "-" makes a
// missing path no error (the data directory may not exist before the first run).
func systemdPath(p string) string { return `"-` + systemdEscape(p) + `"` }

// onCalendar is the timer's calendar event: every `every` hours from the plan's
// first hour, at its minute.
func (p *schedulePlan) onCalendar() string {
	switch h := p.hours(); h {
	case 1:
		return fmt.Sprintf("*-*-* *:%02d:00", p.minute)
	case 24:
		return fmt.Sprintf("*-*-* %02d:%02d:00", p.hour, p.minute)
	default:
		return fmt.Sprintf("*-*-* %02d/%d:%02d:00", p.firstHour(), h, p.minute)
	}
}

// timerUnit: OnCalendar= rather than OnUnitActiveSec=, because systemd honours
// Persistent= only for calendar timers (systemd.timer(5)): a run missed while the
// machine slept or was off starts at the next boot or wake. RandomizedDelaySec=
// spreads probes that share a minute.
func (p *schedulePlan) timerUnit() string {
	return fmt.Sprintf(`[Unit]
Description=Run vantage every %s

[Timer]
OnCalendar=%s
RandomizedDelaySec=10min
Persistent=true

[Install]
WantedBy=timers.target
`, formatHours(p.every), p.onCalendar())
}

func formatHours(d time.Duration) string { return fmt.Sprintf("%dh", int(d/time.Hour)) }

// unitDirFor is where units go: the flag, else /etc/systemd/system for root,
// else the user's systemd directory.
func unitDirFor(flag string) (dir string, user bool, err error) {
	user = os.Geteuid() != 0
	if flag != "" {
		return flag, user, nil
	}
	if !user {
		return "/etc/systemd/system", false, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", true, fmt.Errorf("schedule: %w", err)
	}
	return filepath.Join(base, "systemd", "user"), true, nil
}

func scheduleSystemd(cmd *cobra.Command, plan *schedulePlan, f scheduleFlags) error {
	out := cmd.OutOrStdout()
	dir, user, err := unitDirFor(f.unitDir)
	if err != nil {
		return err
	}
	if !f.install {
		fmt.Fprintf(out, "# %s\n%s\n# %s\n%s", unitService, plan.serviceUnit(!user), unitTimer, plan.timerUnit())
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	for name, text := range map[string]string{unitService: plan.serviceUnit(!user), unitTimer: plan.timerUnit()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return fmt.Errorf("schedule: %w", err)
		}
	}
	fmt.Fprintf(out, "wrote %s and %s in %s\n", unitService, unitTimer, dir)
	if user {
		fmt.Fprintln(out, "on a machine nobody logs in to (a headless Raspberry Pi), keep user timers running with: loginctl enable-linger")
	}
	return enableTimer(out, user, f.unitDir != "")
}

// systemctl runs systemctl (--user for user units).
func systemctl(user bool, args ...string) error {
	if user {
		args = append([]string{"--user"}, args...)
	}
	if b, err := exec.Command("systemctl", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("schedule: systemctl %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(b))
	}
	return nil
}

// enableTimer reloads systemd and enables the timer, or says how to when it cannot
// (no systemd, or units written to a custom directory).
func enableTimer(out io.Writer, user, customDir bool) error {
	prefix := map[bool]string{true: "--user "}[user]
	manual := "systemctl " + prefix + "daemon-reload && systemctl " + prefix + "enable --now " + unitTimer
	if _, err := exec.LookPath("systemctl"); err != nil || customDir {
		fmt.Fprintf(out, "enable it with: %s\n", manual)
		return nil
	}
	for _, a := range [][]string{{"daemon-reload"}, {"enable", "--now", unitTimer}} {
		if err := systemctl(user, a...); err != nil {
			return fmt.Errorf("%w (enable it by hand: %s)", err, manual)
		}
	}
	fmt.Fprintf(out, "enabled %s; see it with: systemctl %slist-timers vantage.timer\n", unitTimer, prefix)
	return nil
}

// removeSystemd disables the timer and deletes both units from the directory
// --install wrote them to.
func removeSystemd(unitDirFlag string) ([]string, error) {
	dir, user, err := unitDirFor(unitDirFlag)
	if err != nil {
		return nil, nil
	}
	var present []string
	for _, name := range []string{unitTimer, unitService} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			present = append(present, name)
		}
	}
	if len(present) == 0 {
		return nil, nil
	}
	_, noSystemctl := exec.LookPath("systemctl")
	managed := noSystemctl == nil && unitDirFlag == ""
	if managed {
		// A timer that was never enabled makes disable fail harmlessly; go on.
		_ = systemctl(user, "disable", "--now", unitTimer)
	}
	var removed []string
	var errs []error
	for _, name := range present {
		path := filepath.Join(dir, name)
		if err := os.Remove(path); err != nil {
			errs = append(errs, fmt.Errorf("schedule: %w", err))
			continue
		}
		removed = append(removed, path)
	}
	if managed {
		if err := systemctl(user, "daemon-reload"); err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}
