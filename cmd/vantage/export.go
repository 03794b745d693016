package main

import (
	"bytes"
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
	var since, out, split string
	cmd := &cobra.Command{
		Use:   "export --since T -o FILE [--split-size SIZE]",
		Short: "write signed measurements to a bundle file for carrying out by hand",
		Long: `Write every stored measurement that started at or after T to FILE, one signed
line each (a bundle). Anyone can check a bundle offline with 'vantage verify FILE';
the collector imports it as it is.

T is an RFC 3339 time (2022-01-05T10:00:00Z), a date (2022-01-05, UTC midnight)
or a duration back from now (72h, 30m, 7d). FILE is written to a temporary file
beside it and renamed into place, so it is never left half-written; "-" writes
to standard output.

--split-size SIZE (bytes, or with k, M, G, KiB, MiB, GiB: 25M, 10MiB) writes
parts of at most SIZE bytes instead, for a USB stick or a messaging app's
attachment limit: FILE bundle.jsonl becomes bundle.001.jsonl, bundle.002.jsonl,
... Lines are never cut; a single line longer than SIZE gets a part of its own.
Each part is a bundle in its own right (vantage verify checks it alone), and
'vantage upload --bundle' takes the parts in any order.`,
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
			if split != "" {
				size, err := parseSize(split)
				if err != nil || out == "-" {
					return withCode(exitUsage, errors.Join(err, errors.New("export: --split-size needs a size and a file, not standard output")))
				}
				parts, n, err := exportSplit(cmd.Context(), dataDirOf(cfg), t, out, size)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "exported %d measurements since %s in %d parts:\n", n, t.UTC().Format(time.RFC3339), len(parts))
				for _, p := range parts {
					fmt.Fprintln(cmd.OutOrStdout(), p)
				}
				return nil
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
	cmd.Flags().StringVar(&split, "split-size", "", "write parts of at most this size (25M, 10MiB, 500k; bytes without a unit)")
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

// parseSize reads a byte count with an optional unit: k, M, G (powers of 1000)
// or KiB, MiB, GiB (powers of 1024).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1}}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("export: --split-size %q is not a positive size such as 25M or 10MiB", s)
	}
	return n * mult, nil
}

// partName is the name of part i (1-based) of out: bundle.jsonl → bundle.001.jsonl.
func partName(out string, i int) string {
	ext := filepath.Ext(out)
	return fmt.Sprintf("%s.%03d%s", strings.TrimSuffix(out, ext), i, ext)
}

// exportSplit writes the bundle in parts of at most size bytes (a longer line
// alone in its part), each written atomically, and returns their names and the
// number of lines.
func exportSplit(ctx context.Context, dir string, since time.Time, out string, size int64) ([]string, int, error) {
	st, err := openStoreForExport(dir)
	if err != nil {
		return nil, 0, err
	}
	defer st.Close()
	var parts []string
	var part bytes.Buffer
	lines, total := 0, 0
	flush := func() error {
		if part.Len() == 0 {
			return nil
		}
		name := partName(out, len(parts)+1)
		if _, err := writeFileAtomically(name, func(w io.Writer) (int, error) {
			_, err := w.Write(part.Bytes())
			return lines, err
		}); err != nil {
			return err
		}
		parts = append(parts, name)
		part.Reset()
		total += lines
		lines = 0
		return nil
	}
	err = st.MeasurementsSince(ctx, since, func(m store.StoredMeasurement) error {
		if part.Len() > 0 && int64(part.Len()+len(m.Line)+1) > size {
			if err := flush(); err != nil {
				return err
			}
		}
		bw := report.NewBundleWriter(&part)
		if err := bw.Write(m.Line); err != nil {
			return err
		}
		lines++
		return bw.Flush()
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return parts, total, fmt.Errorf("export: %w", err)
	}
	return parts, total, nil
}

func openStoreForExport(dir string) (*store.Store, error) {
	if _, err := os.Stat(filepath.Join(dir, store.FileName)); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("export: no store in %s (nothing measured yet?)", dir)
	}
	return store.Open(dir)
}

// exportBundle writes the bundle and returns how many lines it holds.
func exportBundle(ctx context.Context, dir string, since time.Time, out string, stdout io.Writer) (int, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	st, err := openStoreForExport(dir)
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
