package store

import (
	"context"
	"database/sql"
	"time"
)

// DefaultKeepUploaded is how long a measurement the collector acknowledged stays
// in the store: four weeks keeps the recent history for `vantage results` and a
// re-export, while a Raspberry Pi's SD card measuring every hour never fills (a
// run of the Kazakhstan list is about 2,300 measurements, some 20 MB).
const DefaultKeepUploaded = 28 * 24 * time.Hour

// PruneUploaded deletes the measurements that the collector acknowledged
// (queue state "uploaded") and that started before before, with their queue
// entries, in one transaction, and returns how many it deleted. Nothing else is
// ever deleted: a measurement still pending, rejected by the collector, or kept
// local (upload off) stays, however old. Runs and the connectivity history stay
// too: they are small and are the timeline `vantage check --history` reads.
func (s *Store) PruneUploaded(ctx context.Context, before time.Time) (int, error) {
	cutoff := formatTime(before)
	var n int64
	err := s.withTx(ctx, "prune uploaded", func(ctx context.Context, tx *sql.Tx) error {
		// The uids first, into a temporary table: the two deletes must see the same
		// set, and the measurements row goes last because the queue references it.
		steps := []string{
			`CREATE TEMP TABLE IF NOT EXISTS prune_uids (uid TEXT PRIMARY KEY)`,
			`DELETE FROM prune_uids`,
			`INSERT INTO prune_uids SELECT q.uid FROM upload_queue q JOIN measurements m ON m.uid = q.uid
			 WHERE q.state = 'uploaded' AND m.start_time < ?`,
			`DELETE FROM upload_queue WHERE uid IN (SELECT uid FROM prune_uids)`,
			`DELETE FROM measurements WHERE uid IN (SELECT uid FROM prune_uids)`,
			`DELETE FROM prune_uids`,
		}
		for i, q := range steps {
			var args []any
			if i == 2 {
				args = []any{cutoff}
			}
			res, err := tx.ExecContext(ctx, q, args...)
			if err != nil {
				return s.wrap("prune uploaded", err)
			}
			if i == 4 {
				n, _ = res.RowsAffected()
			}
		}
		return nil
	})
	return int(n), err
}
