package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/atomicfile"
)

func init() { register(newExportCmd) }

func newExportCmd() *cobra.Command {
	var since, out string
	cmd := &cobra.Command{
		Use:   "export --since T -o FILE",
		Short: "write signed measurements to a bundle file for carrying out by hand",
		Long: `Write every stored measurement that started at or after T to FILE, one signed
line each (a bundle). Anyone can check a bundle offline with 'vantage verify FILE';
the collector imports it as it is.

T is an RFC 3339 time (2022-01-05T10:00:00Z), a date (2022-01-05, UTC midnight)
or a duration back from now (72h, 30m, 7d). FILE is written to a temporary file
beside it and renamed into place, so it is never left half-written; "-" writes
to standard output.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since == "" || out == "" {
				return withCode(exitUsage, errors.New("export: --since and -o are required"))
			}
			t, err := parseSince(since, time.Now())
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("export: --since: %w", err))
			}
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			n, err := exportBundle(cmd.Context(), dataDirOf(cfg), t, out, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exported %d measurements since %s to %s\n", n, t.UTC().Format(time.RFC3339), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "export measurements started at or after T (RFC 3339, YYYY-MM-DD or a duration like 72h)")
	cmd.Flags().StringVarP(&out, "output", "o", "", `bundle file to write ("-" for standard output)`)
	return cmd
}

// parseSince reads an RFC 3339 time, a YYYY-MM-DD date (UTC) or a duration back
// from now; a duration may use a "d" suffix for days.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && err != nil {
		n, aerr := strconv.Atoi(days)
		d, err = time.Duration(n)*24*time.Hour, aerr
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time, a YYYY-MM-DD date or a duration like 72h", s)
	}
	if d < 0 {
		return time.Time{}, fmt.Errorf("%q: a duration back from now must not be negative", s)
	}
	return now.Add(-d), nil
}

// exportBundle writes the bundle and returns how many lines it holds.
func exportBundle(ctx context.Context, dir string, since time.Time, out string, stdout io.Writer) (int, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if _, err := os.Stat(filepath.Join(dir, store.FileName)); errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("export: no store in %s (nothing measured yet?)", dir)
	}
	st, err := store.Open(dir)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	write := func(w io.Writer) (int, error) {
		bw := report.NewBundleWriter(w)
		err := st.MeasurementsSince(ctx, since, func(m store.StoredMeasurement) error { return bw.Write(m.Line) })
		if err != nil {
			return 0, fmt.Errorf("export: %w", err)
		}
		return bw.Lines(), bw.Flush()
	}
	if out == "-" {
		return write(stdout)
	}
	return writeFileAtomically(out, write)
}

// writeFileAtomically writes through fill into a temporary file beside path and
// renames it over path: a reader sees the old file or the whole new one.
func writeFileAtomically(path string, fill func(w io.Writer) (int, error)) (int, error) {
	n := 0
	err := atomicfile.Write(path, 0o600, func(w io.Writer) error {
		var err error
		n, err = fill(w)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	return n, nil
}
