package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/registry"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/runner"
	"github.com/vantage-probe/vantage/report"
)

func init() { register(newRunCmd) }

type runFlags struct {
	inputs    []string
	inputFile string
	batch     bool
	json      bool
	noUpload  bool
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [NETTEST]",
		Short: "measure URLs (web_connectivity by default) or run one nettest",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := "web_connectivity"
			if len(args) == 1 {
				name = args[0]
			}
			return runNettest(cmd, name, &f)
		},
	}
	cmd.Flags().StringArrayVar(&f.inputs, "input", nil, "an input to measure (repeatable)")
	cmd.Flags().StringVar(&f.inputFile, "input-file", "", "a file of inputs: one per line, or a Citizen Lab CSV")
	cmd.Flags().BoolVar(&f.batch, "batch", false, "scheduled run: no prompts, structured log")
	cmd.Flags().BoolVar(&f.json, "json", false, "one JSON object per line on stdout")
	cmd.Flags().BoolVar(&f.noUpload, "no-upload", false, "keep measurements local")
	return cmd
}

func runNettest(cmd *cobra.Command, name string, f *runFlags) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	factory, err := registry.Lookup(name)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if len(f.inputs) == 0 {
		return withCode(exitUsage, fmt.Errorf("run %s: no input (use --input)", name))
	}
	m, err := factory(&nettests.Env{Config: cfg, Netx: &netx.Config{Resolver: cfg.Network.Resolver, ClientHello: cfg.TLS.ClientHello}, Now: time.Now})
	if err != nil {
		return withCode(exitUsage, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	id := runner.Identity{ProbeCC: cfg.Probe.Country, ProbeASN: cfg.Probe.ASN}
	reportID := report.NewReportID(time.Now(), m.Name(), id.ProbeCC, id.ProbeASN)
	out := bufio.NewWriter(cmd.OutOrStdout())
	defer out.Flush()
	for _, in := range f.inputs {
		_, b, err := runner.Measure(ctx, m, in, id, reportID, time.Now)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("run %s: input %q: %w", name, in, err))
		}
		out.Write(b)
		out.WriteByte('\n')
	}
	return nil
}
