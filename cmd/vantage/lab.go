//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/lab"
)

func init() { register(newLabCmd) }

func newLabCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Emulated censored networks: watch a scenario play out (root)",
		Long: `vantage lab builds an emulated censored network out of Linux network namespaces
(probe, ISP router with the censor's rules, an internet with domestic and foreign
servers), runs this binary as the probe inside it and compares its verdicts with
what the methodology expects. Needs root. See docs/lab.md.`,
	}
	cmd.AddCommand(newLabListCmd(), newLabRunCmd(), newLabBenchCmd(), newLabCleanCmd())
	return cmd
}

func newLabListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the scenarios",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			all, err := lab.Scenarios()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 8, 2, ' ', 0)
			for _, sc := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", sc.Name, sc.Network, firstSentence(sc.Description))
			}
			return tw.Flush()
		},
	}
}

// labFlags are shared by lab run and lab bench.
type labFlags struct {
	binary  string
	timeout time.Duration
}

func (f *labFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.binary, "bin", "", "vantage binary to run as probe and helper (default: this one)")
	cmd.Flags().DurationVar(&f.timeout, "probe-timeout", lab.DefaultProbeTimeout, "bound on the probe's run")
}

func (f *labFlags) options(cmd *cobra.Command) (lab.Options, error) {
	bin := f.binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return lab.Options{}, fmt.Errorf("lab: find own binary: %w", err)
		}
		bin = exe
	}
	logw := cmd.ErrOrStderr()
	return lab.Options{Binary: bin, ProbeTimeout: f.timeout, Log: func(format string, args ...any) {
		fmt.Fprintf(logw, "lab: "+format+"\n", args...)
	}}, nil
}

func newLabRunCmd() *cobra.Command {
	var f labFlags
	var output string
	cmd := &cobra.Command{
		Use:   "run SCENARIO",
		Short: "Build a scenario's network, run the probe inside, print verdicts against expectations, tear down",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := labSupported(); err != nil {
				return err
			}
			sc, err := lab.LookupScenario(args[0])
			if err != nil {
				return withCode(exitUsage, err)
			}
			opts, err := f.options(cmd)
			if err != nil {
				return err
			}
			// Ctrl-C cancels the run; RunScenario tears the lab down before returning.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", sc.Name, sc.Description)
			res, err := lab.RunScenario(ctx, sc, opts)
			if err != nil {
				return err
			}
			if output != "" {
				if err := os.WriteFile(output, res.Probe.Output, 0o644); err != nil {
					return fmt.Errorf("lab: %w", err)
				}
			}
			fmt.Fprint(cmd.OutOrStdout(), res.Table())
			if !res.Passed() {
				fmt.Fprint(cmd.OutOrStdout(), "\n"+res.Diff())
				return errors.New("lab: verdicts differ from the expectations")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "all verdicts as expected (probe %v, peak RSS %.1f MiB)\n",
				res.Probe.Wall.Round(time.Millisecond), float64(res.Probe.MaxRSSKiB)/1024)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "also write the probe's JSON lines to this file")
	return cmd
}

func newLabBenchCmd() *cobra.Command {
	var f labFlags
	cfg := lab.DefaultBench
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run the lab benchmark: many URLs, some black-holed, some reset; report time, memory, accuracy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := labSupported(); err != nil {
				return err
			}
			opts, err := f.options(cmd)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := lab.RunBench(ctx, cfg, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res)
			if res.Correct < res.URLs {
				diff := res.Result.Diff()
				if lines := strings.SplitAfter(diff, "\n"); len(lines) > 40 {
					diff = strings.Join(lines[:40], "") + "…\n"
				}
				fmt.Fprint(cmd.OutOrStdout(), diff)
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().IntVar(&cfg.URLs, "urls", cfg.URLs, "number of URLs")
	cmd.Flags().Float64Var(&cfg.Blackholed, "blackholed", cfg.Blackholed, "share of black-holed URLs")
	cmd.Flags().Float64Var(&cfg.Reset, "reset", cfg.Reset, "share of reset URLs")
	cmd.Flags().IntVar(&cfg.Parallelism, "parallelism", 0, "the probe's [run] parallelism (0: its default)")
	return cmd
}

func newLabCleanCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "clean",
		Short: "Remove namespaces left by lab runs whose process died (kill -9, crash)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := labSupported(); err != nil {
				return err
			}
			removed, err := lab.CleanStale()
			for _, r := range removed {
				fmt.Fprintln(cmd.OutOrStdout(), "removed", r)
			}
			return err
		},
	}
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

// labSupported checks that labs can be built; without root it re-runs the command
// inside a user namespace (unshare -Urnm) and exits with the child's code.
func labSupported() error {
	code, ran, rootlessErr := lab.RootlessReexec()
	if ran {
		os.Exit(code)
	}
	if err := lab.Supported(); err != nil {
		if rootlessErr != nil {
			return fmt.Errorf("lab: %w; and %v", err, rootlessErr)
		}
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}
