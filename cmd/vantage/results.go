package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report"
)

func init() { register(newResultsCmd) }

// defaultResultsLimit is how many runs `results list` shows: about two days of
// hourly scheduled runs.
const defaultResultsLimit = 50

func newResultsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "results",
		Short: "show the local history of runs and their measurements",
	}
	cmd.AddCommand(newResultsListCmd(), newResultsShowCmd())
	return cmd
}

func newResultsListCmd() *cobra.Command {
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "list recent runs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openResultsStore()
			if err != nil || st == nil {
				return err
			}
			defer st.Close()
			runs, err := st.Runs(cmd.Context(), limit)
			if err != nil {
				return err
			}
			if asJSON {
				return writeRunsJSON(cmd.OutOrStdout(), runs)
			}
			return writeRunsTable(cmd.OutOrStdout(), runs)
		},
	}
	cmd.Flags().IntVar(&limit, "limit", defaultResultsLimit, "at most this many runs")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per run")
	return cmd
}

func newResultsShowCmd() *cobra.Command {
	var asJSON, signed bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "show one run: its summary and every measurement",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return withCode(exitUsage, fmt.Errorf("results show: %q is not a run id (see 'vantage results list')", args[0]))
			}
			st, err := openResultsStore()
			if err != nil {
				return err
			}
			if st == nil {
				return withCode(exitUsage, fmt.Errorf("results show: no run %d", id))
			}
			defer st.Close()
			run, ms, err := st.Run(cmd.Context(), id)
			if errors.Is(err, store.ErrUnknownRun) {
				return withCode(exitUsage, fmt.Errorf("results show: no run %d (see 'vantage results list')", id))
			}
			if err != nil {
				return err
			}
			if asJSON || signed {
				return writeMeasurementLines(cmd.OutOrStdout(), ms, signed)
			}
			return writeRunDetail(cmd.OutOrStdout(), run, ms)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each measurement as one JSON line")
	cmd.Flags().BoolVar(&signed, "signed", false, "print each signed envelope as stored (for vantage verify)")
	return cmd
}

// openResultsStore opens the store, or returns nil (and says so) when no run was
// ever made: reading history must not create a database.
func openResultsStore() (*store.Store, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	dir := dataDirOf(cfg)
	if _, err := os.Stat(filepath.Join(dir, store.FileName)); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "no runs yet (no store in %s)\n", dir)
		return nil, nil
	}
	return store.Open(dir)
}

// runSummary is the part of a stored summary that list shows.
type runSummary struct {
	NetworkVerdict *string        `json:"network_verdict"`
	URLs           map[string]int `json:"urls"`
}

func parseRunSummary(b []byte) runSummary {
	var s runSummary
	_ = json.Unmarshal(b, &s) // an unfinished run has no summary: zero values
	return s
}

func writeRunsTable(w io.Writer, runs []store.Run) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED (UTC)\tTEST\tNETWORK\tVERDICT\tMEASUREMENTS\tBLOCKED\tOK")
	for _, r := range runs {
		s := parseRunSummary(r.Summary)
		verdict := "-"
		switch {
		case s.NetworkVerdict != nil:
			verdict = *s.NetworkVerdict
		case r.FinishTime.IsZero():
			verdict = "(unfinished)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s %s\t%s\t%d\t%d\t%d\n", r.ID, report.FormatTime(r.StartTime), r.TestName,
			r.ProbeCC, r.ProbeASN, verdict, r.Measurements, s.URLs["blocked"], s.URLs["ok"])
	}
	return tw.Flush()
}

func writeRunsJSON(w io.Writer, runs []store.Run) error {
	for _, r := range runs {
		obj := map[string]any{
			"id": r.ID, "test_name": r.TestName, "start_time": r.StartTime.UTC(), "probe_cc": r.ProbeCC,
			"probe_asn": r.ProbeASN, "network_name": r.NetworkName, "measurements": r.Measurements,
			"summary": json.RawMessage(orNull(r.Summary)),
		}
		if !r.FinishTime.IsZero() {
			obj["finish_time"] = r.FinishTime.UTC()
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return fmt.Errorf("results: %w", err)
		}
		if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
			return err
		}
	}
	return nil
}

func orNull(b []byte) []byte {
	if len(b) == 0 || !json.Valid(b) {
		return []byte("null")
	}
	return b
}

func writeRunDetail(w io.Writer, run *store.Run, ms []store.StoredMeasurement) error {
	s := parseRunSummary(run.Summary)
	fmt.Fprintf(w, "Run %d: %s, started %s UTC, %s %s %s\n", run.ID, run.TestName, report.FormatTime(run.StartTime),
		run.ProbeCC, run.ProbeASN, run.NetworkName)
	if s.NetworkVerdict != nil {
		fmt.Fprintf(w, "Network: %s\n", *s.NetworkVerdict)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tTEST\tVERDICT\tMETHOD\tINPUT\tMEASUREMENT UID")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", report.FormatTime(m.StartTime), m.TestName,
			dash(m.Verdict), dash(m.Method), dash(m.Input), m.UID)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeMeasurementLines prints the measurement objects (as `run --json` does), or
// the signed envelopes exactly as stored.
func writeMeasurementLines(w io.Writer, ms []store.StoredMeasurement, signed bool) error {
	for _, m := range ms {
		line := m.Line
		if !signed {
			s, err := report.ParseSigned(m.Line)
			if err != nil {
				return fmt.Errorf("results: stored %s: %w", m.UID, err)
			}
			line = s.Measurement
		}
		if _, err := fmt.Fprintf(w, "%s\n", line); err != nil {
			return err
		}
	}
	return nil
}
