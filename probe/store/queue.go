package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vantage-probe/vantage/report/upload"
)

var _ upload.Queue = (*Store)(nil)

// Queue retry schedule for measurements the collector failed on (5xx after the
// client's own retries): the wait doubles from retryBase up to retryMax. The
// collector being unreachable is not recorded here at all: during a shutdown
// measurements simply wait, with no attempt counted, until a drain gets through.
const (
	retryBase = time.Minute
	retryMax  = 6 * time.Hour
)

// retryDelay is the wait before the next attempt after the given number of failed
// attempts (1 for the first failure).
func retryDelay(attempts int) time.Duration {
	d := retryBase
	for i := 1; i < attempts && d < retryMax; i++ {
		d *= 2
	}
	return min(d, retryMax)
}

// PendingUploads returns up to limit queued measurements that are due now, oldest
// first. limit <= 0 means all.
func (s *Store) PendingUploads(ctx context.Context, limit int) ([]upload.Pending, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT q.uid, m.signed_line, q.attempts FROM upload_queue q JOIN measurements m ON m.uid = q.uid
		 WHERE q.state = 'pending' AND q.next_attempt <= ? ORDER BY q.next_attempt, m.id LIMIT ?`,
		formatTime(s.Now()), limit)
	if err != nil {
		return nil, s.wrap("read upload queue", err)
	}
	defer rows.Close()
	var out []upload.Pending
	for rows.Next() {
		var p upload.Pending
		if err := rows.Scan(&p.UID, &p.Line, &p.Attempts); err != nil {
			return nil, s.wrap("read upload queue", err)
		}
		out = append(out, p)
	}
	return out, s.wrap("read upload queue", rows.Err())
}

// MarkUploaded records that the collector acknowledged these measurements, in one
// transaction. Unknown uids are ignored: the collector's acknowledgement is what
// matters, and the queue entry may have been marked already by a retried drain.
func (s *Store) MarkUploaded(ctx context.Context, uids ...string) error {
	now := formatTime(s.Now())
	return s.withTx(ctx, "mark uploaded", func(ctx context.Context, tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx,
			`UPDATE upload_queue SET state = 'uploaded', last_error = '', done_at = ? WHERE uid = ?`)
		if err != nil {
			return s.wrap("mark uploaded", err)
		}
		defer stmt.Close()
		for _, uid := range uids {
			if _, err := stmt.ExecContext(ctx, now, uid); err != nil {
				return s.wrap("mark uploaded "+uid, err)
			}
		}
		return nil
	})
}

// MarkUploadFailed records a failed attempt. permanent means the collector refused
// the measurement for good (state "rejected": it is never sent again but stays in
// the store and in exports); otherwise the next attempt is scheduled after
// retryDelay.
func (s *Store) MarkUploadFailed(ctx context.Context, uid string, permanent bool, msg string) error {
	now := s.Now()
	return s.withTx(ctx, "mark upload failed "+uid, func(ctx context.Context, tx *sql.Tx) error {
		var attempts int
		err := tx.QueryRowContext(ctx, `SELECT attempts FROM upload_queue WHERE uid = ?`, uid).Scan(&attempts)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: mark upload failed %s: %w", uid, ErrUnknownQueue)
		}
		if err != nil {
			return s.wrap("mark upload failed "+uid, err)
		}
		attempts++
		state, next, done := "pending", formatTime(now.Add(retryDelay(attempts))), any(nil)
		if permanent {
			state, next, done = "rejected", formatTime(now), formatTime(now)
		}
		_, err = tx.ExecContext(ctx,
			`UPDATE upload_queue SET state = ?, attempts = ?, next_attempt = ?, last_error = ?, done_at = ? WHERE uid = ?`,
			state, attempts, next, msg, done, uid)
		return s.wrap("mark upload failed "+uid, err)
	})
}

// QueueStats counts the upload queue by state.
type QueueStats struct {
	Pending, Due, Uploaded, Rejected int
}

// QueueStats returns the queue's counts; Due counts the pending entries whose next
// attempt time has come.
func (s *Store) QueueStats(ctx context.Context) (QueueStats, error) {
	var st QueueStats
	err := s.db.QueryRowContext(ctx,
		`SELECT
		   coalesce(sum(state = 'pending'), 0),
		   coalesce(sum(state = 'pending' AND next_attempt <= ?), 0),
		   coalesce(sum(state = 'uploaded'), 0),
		   coalesce(sum(state = 'rejected'), 0)
		 FROM upload_queue`, formatTime(s.Now())).Scan(&st.Pending, &st.Due, &st.Uploaded, &st.Rejected)
	return st, s.wrap("read queue stats", err)
}

var _ upload.RouteMemory = (*Store)(nil)

// PreferredRoute returns the upload route that last reached the collector, ""
// when none has yet.
func (s *Store) PreferredRoute(ctx context.Context) (string, error) {
	var route string
	err := s.db.QueryRowContext(ctx, `SELECT route FROM upload_route WHERE id = 1`).Scan(&route)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return route, s.wrap("read upload route", err)
}

// SetPreferredRoute remembers the upload route that reached the collector.
func (s *Store) SetPreferredRoute(ctx context.Context, key string) error {
	now := formatTime(s.Now())
	return s.withTx(ctx, "remember upload route", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO upload_route (id, route, time) VALUES (1, ?, ?)
			 ON CONFLICT (id) DO UPDATE SET route = excluded.route, time = excluded.time`, key, now)
		return s.wrap("remember upload route", err)
	})
}
