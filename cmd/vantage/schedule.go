package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/probe/config"
)

func init() { register(newScheduleCmd) }

// cronMarker ends the crontab line vantage manages, so that --install replaces its
// own line and leaves the others alone.
const cronMarker = "# vantage-schedule"

// Unit names of the systemd service and timer.
const (
	unitService = "vantage.service"
	unitTimer   = "vantage.timer"
)

type scheduleFlags struct {
	install bool
	systemd bool
	every   time.Duration
	unitDir string
}

func newScheduleCmd() *cobra.Command {
	var f scheduleFlags
	cmd := &cobra.Command{
		Use:   "schedule [--install] [--systemd] [--every 1h]",
		Short: "print (or install) a crontab line or a systemd timer for unattended runs",
		Long: `Print what runs 'vantage run --batch' periodically: a crontab line, or with
--systemd a service and a timer. --install also installs it: the line goes into
your crontab (replacing an earlier vantage line), the units into
/etc/systemd/system (root) or ~/.config/systemd/user, and the timer is enabled.
Consent must be recorded first: scheduled runs cannot ask.

Scheduled runs write a JSON log and exit with documented codes (see 'vantage
run --help'); 3 means the previous run was still going, which is harmless.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.every < time.Hour || f.every > 24*time.Hour || f.every%time.Hour != 0 {
				return withCode(exitUsage, fmt.Errorf("schedule: --every %s: want whole hours from 1h to 24h", f.every))
			}
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			plan, err := newSchedulePlan(cfg, f.every)
			if err != nil {
				return err
			}
			if f.install && !cfg.Probe.InformedConsent {
				return errNoConsent(plan.configPath)
			}
			if f.systemd {
				return scheduleSystemd(cmd, plan, f)
			}
			return scheduleCron(cmd, plan, f.install)
		},
	}
	cmd.Flags().BoolVar(&f.install, "install", false, "install it (crontab, or systemd units and enable the timer)")
	cmd.Flags().BoolVar(&f.systemd, "systemd", false, "a systemd service and timer instead of a crontab line")
	cmd.Flags().DurationVar(&f.every, "every", time.Hour, "interval between runs, whole hours (1h..24h)")
	cmd.Flags().StringVar(&f.unitDir, "unit-dir", "", "with --systemd --install: where to write the units (default: per user, or /etc/systemd/system as root)")
	return cmd
}

// schedulePlan is what every scheduler runs: absolute paths, so that the job does
// not depend on cron's or systemd's working directory and environment.
type schedulePlan struct {
	binary, configPath, logPath string
	every                       time.Duration
	minute                      int
}

func newSchedulePlan(cfg *config.Config, every time.Duration) (*schedulePlan, error) {
	bin, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(bin); err == nil {
		bin = resolved
	}
	path, err := configFileForWriting(cfg)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	if path, err = filepath.Abs(path); err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	// A random minute spreads probes over the hour, so a collector is not hit by
	// every probe at :00.
	return &schedulePlan{binary: bin, configPath: path, every: every, minute: rand.IntN(60),
		logPath: filepath.Join(dataDirOf(cfg), batchLogName)}, nil
}

func (p *schedulePlan) command() string {
	return shellQuote(p.binary) + " --config " + shellQuote(p.configPath) + " run --batch"
}

func (p *schedulePlan) cronLine() string {
	hours := "*"
	if h := int(p.every / time.Hour); h == 24 {
		hours = fmt.Sprint(rand.IntN(24))
	} else if h > 1 {
		hours = fmt.Sprintf("*/%d", h)
	}
	return fmt.Sprintf("%d %s * * * %s >>%s 2>&1 %s", p.minute, hours, p.command(), shellQuote(p.logPath), cronMarker)
}

func scheduleCron(cmd *cobra.Command, plan *schedulePlan, install bool) error {
	line := plan.cronLine()
	if !install {
		fmt.Fprintln(cmd.OutOrStdout(), line)
		fmt.Fprintln(cmd.ErrOrStderr(), "# add it with 'crontab -e', or run: vantage schedule --install")
		return nil
	}
	current, err := exec.Command("crontab", "-l").Output()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) { // exit 1 is "no crontab for user": start empty
			return fmt.Errorf("schedule: crontab -l: %w", err)
		}
		current = nil
	}
	var kept []string
	for _, l := range strings.Split(strings.TrimRight(string(current), "\n"), "\n") {
		if l != "" && !strings.HasSuffix(l, cronMarker) {
			kept = append(kept, l)
		}
	}
	kept = append(kept, line)
	crontab := exec.Command("crontab", "-")
	crontab.Stdin = strings.NewReader(strings.Join(kept, "\n") + "\n")
	if out, err := crontab.CombinedOutput(); err != nil {
		return fmt.Errorf("schedule: crontab -: %w: %s", err, bytes.TrimSpace(out))
	}
	fmt.Fprintf(cmd.OutOrStdout(), "installed in your crontab:\n%s\nlog: %s\n", line, plan.logPath)
	return nil
}

func (p *schedulePlan) serviceUnit() string {
	return fmt.Sprintf(`[Unit]
Description=vantage censorship and shutdown measurement run
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=%s
# 3: the previous run still holds the lock; not a failure.
SuccessExitStatus=3
Nice=10
`, p.command())
}

func (p *schedulePlan) timerUnit() string {
	return fmt.Sprintf(`[Unit]
Description=Run vantage every %s

[Timer]
OnBootSec=5min
OnUnitActiveSec=%s
RandomizedDelaySec=5min
Persistent=true

[Install]
WantedBy=timers.target
`, formatHours(p.every), formatHours(p.every))
}

func formatHours(d time.Duration) string { return fmt.Sprintf("%dh", int(d/time.Hour)) }

func scheduleSystemd(cmd *cobra.Command, plan *schedulePlan, f scheduleFlags) error {
	out := cmd.OutOrStdout()
	if !f.install {
		fmt.Fprintf(out, "# %s\n%s\n# %s\n%s", unitService, plan.serviceUnit(), unitTimer, plan.timerUnit())
		return nil
	}
	dir, userUnits := f.unitDir, os.Geteuid() != 0
	if dir == "" {
		dir = "/etc/systemd/system"
		if userUnits {
			base, err := os.UserConfigDir()
			if err != nil {
				return fmt.Errorf("schedule: %w", err)
			}
			dir = filepath.Join(base, "systemd", "user")
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	for name, text := range map[string]string{unitService: plan.serviceUnit(), unitTimer: plan.timerUnit()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return fmt.Errorf("schedule: %w", err)
		}
	}
	fmt.Fprintf(out, "wrote %s and %s in %s\n", unitService, unitTimer, dir)
	return enableTimer(out, userUnits, f.unitDir != "")
}

// enableTimer reloads systemd and enables the timer, or says how to when it cannot
// (no systemd, or units written to a custom directory).
func enableTimer(out io.Writer, user, customDir bool) error {
	args := []string{"daemon-reload"}
	enable := []string{"enable", "--now", unitTimer}
	if user {
		args = append([]string{"--user"}, args...)
		enable = append([]string{"--user"}, enable...)
	}
	manual := "systemctl " + strings.Join(args, " ") + " && systemctl " + strings.Join(enable, " ")
	if _, err := exec.LookPath("systemctl"); err != nil || customDir {
		fmt.Fprintf(out, "enable it with: %s\n", manual)
		return nil
	}
	for _, a := range [][]string{args, enable} {
		if b, err := exec.Command("systemctl", a...).CombinedOutput(); err != nil {
			return fmt.Errorf("schedule: systemctl %s: %w: %s (enable it by hand: %s)", strings.Join(a, " "), err, bytes.TrimSpace(b), manual)
		}
	}
	fmt.Fprintf(out, "enabled %s; see it with: systemctl %slist-timers vantage.timer\n", unitTimer, map[bool]string{true: "--user "}[user])
	return nil
}

// shellQuote quotes s for sh (cron runs the line with /bin/sh) and for systemd's
// ExecStart, which accepts the same single quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
