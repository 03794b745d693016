package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/ooni"
)

// pullLogFlags are `vantage pull`'s transparency-log flags.
type pullLogFlags struct {
	state, key string
	skip       bool
}

func (f *pullLogFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.state, "log-state", "", "file remembering each collector's log key and last verified checkpoint (default DATA_DIR/pulled-logs.json)")
	cmd.Flags().StringVar(&f.key, "log-key", "", "the collector's log verifier key (default: the remembered one, or the published one on first use)")
	cmd.Flags().BoolVar(&f.skip, "no-log-check", false, "do not check the collector's transparency log")
}

func (f *pullLogFlags) options(output string) (collector.PullOptions, error) {
	if f.skip {
		return collector.PullOptions{}, nil
	}
	if output == "-" {
		return collector.PullOptions{}, withCode(exitUsage, fmt.Errorf("pull: the log check needs a file for its proofs: give -o FILE or --no-log-check"))
	}
	state := f.state
	if state == "" {
		state = filepath.Join(config.DefaultDataDir(), "pulled-logs.json")
	}
	return collector.PullOptions{LogState: state, LogKey: f.key, ProofFile: output + ".log.json"}, nil
}

func pullFormat(f string) (string, error) {
	switch f {
	case "", collector.FormatJSONL:
		return collector.FormatJSONL, nil
	case collector.FormatOONI:
		return f, nil
	}
	return "", withCode(exitUsage, fmt.Errorf(`pull: --format %q: want "jsonl" or "ooni"`, f))
}

func (f *pullLogFlags) report(cmd *cobra.Command, res collector.PullResult, opts collector.PullOptions) {
	if res.Log == nil {
		return
	}
	out := cmd.OutOrStdout()
	if res.LogFirstUse {
		fmt.Fprintf(out, "first pull from this collector: its log key %s is now pinned in %s (compare it with the one the collector's operator publishes)\n",
			res.Log.Origin, opts.LogState)
	}
	fmt.Fprintf(out, "every measurement is in the collector's log (checkpoint %s, size %d, consistent with the last one verified)\n",
		res.Log.Origin, res.Log.Size)
	if opts.ProofFile != "" {
		fmt.Fprintf(out, "proofs for vantage verify --log: %s\n", opts.ProofFile)
	}
}

// layoutRaw is `pull --layout raw`: OONI's raw-data tree.
const layoutRaw = "raw"

// pullRawTree pulls (verifying signatures and the log) into a temporary file in
// the directory dir, then spreads its OONI-shaped lines into OONI's raw-data tree
// under dir and removes the temporary file.
func pullRawTree(ctx context.Context, cmd *cobra.Command, collectorURL string, filters url.Values, dir string, opts collector.PullOptions, lf *pullLogFlags) error {
	if opts.Format != collector.FormatOONI {
		return withCode(exitUsage, fmt.Errorf("pull: --layout raw needs --format ooni"))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	tmp := filepath.Join(dir, ".vantage-pull.jsonl")
	defer os.Remove(tmp)
	res, err := collector.PullWith(ctx, nil, collectorURL, filters, tmp, opts)
	if err != nil {
		return err
	}
	f, err := os.Open(tmp)
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	defer f.Close()
	files, err := ooni.WriteRawTree(f, dir)
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "pulled %d measurements from %d probes into %d files under %s/raw; every signature verified\n",
		res.Lines, res.Probes, len(files), dir)
	lf.report(cmd, res, opts)
	return nil
}
