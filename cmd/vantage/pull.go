package main

import (
	"fmt"
	"net/url"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/report/collector"
)

func init() { register(newPullCmd) }

// pullFilters are the export filters `vantage pull` passes through, flag name →
// API parameter.
var pullFilters = []struct{ flag, param, help string }{
	{"probe-cc", "probe_cc", "country code, e.g. KZ"},
	{"probe-asn", "probe_asn", "network, e.g. AS9198"},
	{"probe-id", "probe_id", "one probe's id"},
	{"test-name", "test_name", "nettest, e.g. web_connectivity or connectivity"},
	{"input", "input", "exact input URL"},
	{"domain", "domain", "host of the input"},
	{"verdict", "verdict", "test_keys.verdict, e.g. blocked or full_shutdown"},
	{"method", "method", "test_keys.method, e.g. dns.nxdomain"},
	{"since", "since", "measurements at or after this time (RFC 3339 or YYYY-MM-DD)"},
	{"until", "until", "measurements before this time"},
}

func newPullCmd() *cobra.Command {
	var collectorURL, output string
	var lf pullLogFlags
	var format, layout string
	values := make([]string, len(pullFilters))
	cmd := &cobra.Command{
		Use:   "pull --collector URL [filters] -o FILE",
		Short: "Download signed measurements from a collector, verifying every one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if collectorURL == "" || output == "" {
				return withCode(exitUsage, fmt.Errorf("pull: --collector and -o are required"))
			}
			filters := url.Values{}
			for i, f := range pullFilters {
				if values[i] != "" {
					filters.Set(f.param, values[i])
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			opts, err := lf.options(output)
			if err != nil {
				return err
			}
			if opts.Format, err = pullFormat(format); err != nil {
				return err
			}
			if opts.Format == collector.FormatOONI {
				opts.ProofFile = "" // the file holds no signed lines to prove
			}
			if layout == layoutRaw {
				return pullRawTree(ctx, cmd, collectorURL, filters, output, opts, &lf)
			} else if layout != "" && layout != "file" {
				return withCode(exitUsage, fmt.Errorf(`pull: --layout %q: want "file" or "raw"`, layout))
			}
			res, err := collector.PullWith(ctx, nil, collectorURL, filters, output, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pulled %d measurements from %d probes to %s; every signature verified\n",
				res.Lines, res.Probes, output)
			lf.report(cmd, res, opts)
			return nil
		},
	}
	cmd.Flags().StringVar(&collectorURL, "collector", "", "collector base URL, e.g. https://collector.example.org")
	cmd.Flags().StringVarP(&output, "output", "o", "", "file to write (JSON lines, written atomically)")
	lf.register(cmd)
	cmd.Flags().StringVar(&format, "format", "jsonl", `"jsonl" (the signed lines) or "ooni" (bare measurements in OONI's shape, converted after verification)`)
	cmd.Flags().StringVar(&layout, "layout", "file", `"file" (one file, -o) or "raw" (with --format ooni: OONI's raw-data tree under the directory -o, raw/YYYYMMDD/HH/CC/testname/*.jsonl.gz)`)
	for i, f := range pullFilters {
		cmd.Flags().StringVar(&values[i], f.flag, "", f.help)
	}
	return cmd
}
