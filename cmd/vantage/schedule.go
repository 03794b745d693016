package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/probe/config"
)

func init() { register(newScheduleCmd) }

// Schedulers `vantage schedule` writes for.
const (
	schedCron    = "cron"
	schedSystemd = "systemd"
	schedLaunchd = "launchd"
	schedTask    = "task-scheduler"
)

type scheduleFlags struct {
	install, remove bool
	systemd         bool
	launchd         bool
	taskScheduler   bool
	every           time.Duration
	unitDir         string
}

// kind is the scheduler the flags name, else this OS's own: launchd on macOS,
// the Task Scheduler on Windows, cron elsewhere.
func (f scheduleFlags) kind() (string, error) {
	var named []string
	for k, on := range map[string]bool{schedSystemd: f.systemd, schedLaunchd: f.launchd, schedTask: f.taskScheduler} {
		if on {
			named = append(named, k)
		}
	}
	switch {
	case len(named) > 1:
		return "", fmt.Errorf("schedule: choose one of --systemd, --launchd, --task-scheduler")
	case len(named) == 1:
		return named[0], nil
	case runtime.GOOS == "darwin":
		return schedLaunchd, nil
	case runtime.GOOS == "windows":
		return schedTask, nil
	}
	return schedCron, nil
}

func newScheduleCmd() *cobra.Command {
	var f scheduleFlags
	cmd := &cobra.Command{
		Use:   "schedule [--install | --remove] [--systemd | --launchd | --task-scheduler] [--every 1h]",
		Short: "print, install or remove the schedule of unattended runs (cron, systemd, launchd, Task Scheduler)",
		Long: `Print what runs 'vantage run --batch' periodically: a crontab line (Linux and
other Unixes), with --systemd a service and a timer, with --launchd a macOS
launch agent (the default on macOS), with --task-scheduler a Windows task (the
default on Windows). --install also installs it: the line goes into your crontab
(replacing an earlier vantage line); the units into /etc/systemd/system (root) or
~/.config/systemd/user, and the timer is enabled; the agent into
~/Library/LaunchAgents, loaded; the task is created with schtasks.
Consent must be recorded first: scheduled runs cannot ask.

--remove undoes whatever --install installed, of every kind this OS has, and
says what it removed.

Scheduled runs write a JSON log and exit with documented codes (see 'vantage
run --help'); 3 means the previous run was still going, which is harmless.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.install && f.remove {
				return withCode(exitUsage, errors.New("schedule: --install and --remove exclude each other"))
			}
			if f.remove {
				return removeSchedules(cmd.OutOrStdout(), f.unitDir)
			}
			kind, err := f.kind()
			if err != nil {
				return withCode(exitUsage, err)
			}
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
			return schedule(cmd, kind, plan, f)
		},
	}
	cmd.Flags().BoolVar(&f.install, "install", false, "install it (crontab, systemd units, launch agent or task) and enable it")
	cmd.Flags().BoolVar(&f.remove, "remove", false, "remove every schedule --install installed")
	cmd.Flags().BoolVar(&f.systemd, "systemd", false, "a systemd service and timer instead of a crontab line")
	cmd.Flags().BoolVar(&f.launchd, "launchd", false, "a macOS launchd agent (default on macOS)")
	cmd.Flags().BoolVar(&f.taskScheduler, "task-scheduler", false, "a Windows Task Scheduler task (default on Windows)")
	cmd.Flags().DurationVar(&f.every, "every", time.Hour, "interval between runs, whole hours (1h..24h)")
	cmd.Flags().StringVar(&f.unitDir, "unit-dir", "", "with --systemd: where to write (or remove) the units (default: per user, or /etc/systemd/system as root)")
	return cmd
}

func schedule(cmd *cobra.Command, kind string, plan *schedulePlan, f scheduleFlags) error {
	out := cmd.OutOrStdout()
	switch kind {
	case schedSystemd:
		return scheduleSystemd(cmd, plan, f)
	case schedLaunchd:
		if !f.install {
			fmt.Fprint(out, plan.launchdPlist())
			return nil
		}
		return installLaunchd(out, plan)
	case schedTask:
		if !f.install {
			fmt.Fprint(out, plan.taskXML())
			return nil
		}
		return installTask(out, plan)
	}
	return scheduleCron(cmd, plan, f.install)
}

// removeSchedules removes what --install installs, of every kind, and reports
// each removal; a kind this machine lacks (no crontab, no systemctl) is skipped.
func removeSchedules(out io.Writer, unitDir string) error {
	var removed []string
	var errs []error
	for _, remove := range []func(string) ([]string, error){removeCron, removeSystemd, removeLaunchd, removeTask} {
		r, err := remove(unitDir)
		removed = append(removed, r...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range removed {
		fmt.Fprintln(out, "removed", r)
	}
	if len(removed) == 0 && len(errs) == 0 {
		fmt.Fprintln(out, "no vantage schedule was installed")
	}
	return errors.Join(errs...)
}

// schedulePlan is what every scheduler runs: absolute paths, so that the job does
// not depend on the scheduler's working directory and environment.
type schedulePlan struct {
	binary, configPath, logPath string
	every                       time.Duration
	// minute and hour place the runs: every `every` hours from hour%every at minute.
	// Random, so that probes spread over the day instead of all hitting a collector
	// at :00.
	minute, hour int
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
	return &schedulePlan{binary: bin, configPath: path, every: every, minute: rand.IntN(60), hour: rand.IntN(24),
		logPath: filepath.Join(dataDirOf(cfg), batchLogName)}, nil
}

// hours is the interval in whole hours.
func (p *schedulePlan) hours() int { return int(p.every / time.Hour) }

// firstHour is the first hour of the day a run starts at.
func (p *schedulePlan) firstHour() int { return p.hour % p.hours() }

// runHours lists the hours of the day a run starts at.
func (p *schedulePlan) runHours() []int {
	var hs []int
	for h := p.firstHour(); h < 24; h += p.hours() {
		hs = append(hs, h)
	}
	return hs
}

// args are the arguments of every scheduled run.
func (p *schedulePlan) args() []string {
	return []string{"--config", p.configPath, "run", "--batch"}
}

func (p *schedulePlan) command() string {
	parts := []string{shellQuote(p.binary)}
	for _, a := range p.args() {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// shellQuote quotes s for sh (cron runs the line with /bin/sh) and for systemd's
// ExecStart, which accepts the same single quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
