package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/vantage-probe/vantage/probe/store"
)

// batchLogName is the log file cron appends a scheduled run's stderr to, in the
// data directory; batchLogMax is the size past which a run rotates it to
// batch.log.1 (one generation kept): a month of hourly runs' JSON logs, while two
// generations stay far below what fills an SD card.
const (
	batchLogName = "batch.log"
	batchLogMax  = 4 << 20
)

// keepUploaded is the configured retention of uploaded measurements; 0 means
// forever.
func keepUploaded(days int) time.Duration {
	switch {
	case days < 0:
		return 0
	case days == 0:
		return store.DefaultKeepUploaded
	}
	return time.Duration(days) * 24 * time.Hour
}

// housekeep runs at the start of a run, under the lock: it prunes measurements
// the collector has had for longer than the retention, and rotates the batch log.
// Neither failure stops the run: each is logged.
func (s *runSession) housekeep(ctx context.Context) {
	if keep := keepUploaded(s.cfg.Storage.KeepUploadedDays); keep > 0 {
		n, err := s.store.PruneUploaded(ctx, s.store.Now().Add(-keep))
		if err != nil {
			s.logger.Warn("prune uploaded measurements", "error", err)
		} else if n > 0 {
			s.logger.Info("pruned uploaded measurements", "count", n, "older_than_days", int(keep.Hours()/24))
		}
	}
	if err := rotateLog(filepath.Join(s.dataDir, batchLogName), batchLogMax); err != nil {
		s.logger.Warn("rotate batch log", "error", err)
	}
}

// rotateLog renames path to path.1 (replacing it) once path exceeds max bytes.
// cron's shell has already opened path for this run's output, so this run goes on
// writing into path.1 and the next run starts a new path. Windows refuses to
// rename an open file: the log then rotates at a run that is not writing to it.
func rotateLog(path string, max int64) error {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() <= max {
		return nil
	}
	return os.Rename(path, path+".1")
}
