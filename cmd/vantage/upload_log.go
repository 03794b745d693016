package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/vantage-probe/vantage/report/upload"
)

// uploadLogState is the file, in the probe's data directory, remembering each
// collector's log key and the last checkpoint the probe verified.
const uploadLogState = "collector-logs.json"

// checkUploadLog proves that the collector's log holds what it acknowledged in
// this drain, and says so loudly when it does not: a collector that lost,
// changed or rewrote the probe's measurements is as bad as a forged signature.
func checkUploadLog(ctx context.Context, errOut io.Writer, c *upload.Client, res upload.Result, dir string) error {
	unproved := false
	fails := proven(c.CheckLog(ctx, res, filepath.Join(dir, uploadLogState)), func(f upload.LogFailure) {
		fmt.Fprintf(errOut, "log check not done this time: %v\n", f)
		unproved = true
	})
	for _, f := range fails {
		fmt.Fprintf(errOut, "LOG CHECK FAILED: %v\n", f)
	}
	if len(fails) > 0 {
		return fmt.Errorf("upload: the collector's transparency log does not prove %d acknowledged measurements (see LOG CHECK FAILED above)", len(res.Logged))
	}
	if len(res.Logged) > 0 && !unproved {
		fmt.Fprintf(errOut, "log check: the collector's signed log includes all %d measurements it acknowledged\n", len(res.Logged))
	}
	return nil
}

// checkRunLog is checkUploadLog for a run's own drain: failures go to the run's
// log at error level and into the run's upload error.
func checkRunLog(ctx context.Context, log *slog.Logger, c *upload.Client, res upload.Result, dir string) error {
	fails := proven(c.CheckLog(ctx, res, filepath.Join(dir, uploadLogState)), func(f upload.LogFailure) {
		log.Warn("log check not done this time", "collector", f.Collector, "err", f.Err)
	})
	for _, f := range fails {
		log.Error("LOG CHECK FAILED", "collector", f.Collector, "err", f.Err)
	}
	if len(fails) > 0 {
		return fmt.Errorf("the collector's transparency log does not prove %d acknowledged measurements (LOG CHECK FAILED)", len(res.Logged))
	}
	return nil
}

// proven returns the failures that prove something, handing the others (the log
// could not be read over this path) to skipped.
func proven(fails []upload.LogFailure, skipped func(upload.LogFailure)) []upload.LogFailure {
	var out []upload.LogFailure
	for _, f := range fails {
		if f.Unchecked {
			skipped(f)
			continue
		}
		out = append(out, f)
	}
	return out
}
