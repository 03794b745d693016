package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// RunInfo describes a run as it starts.
type RunInfo struct {
	TestName    string
	StartTime   time.Time
	ProbeCC     string
	ProbeASN    string
	NetworkName string
}

// Run is a stored run. FinishTime is zero and Summary nil until FinishRun.
type Run struct {
	ID int64
	RunInfo
	FinishTime   time.Time
	Summary      []byte
	Measurements int
}

// BeginRun records the start of a run and returns its id.
func (s *Store) BeginRun(ctx context.Context, info RunInfo) (int64, error) {
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO runs (test_name, start_time, probe_cc, probe_asn, network_name) VALUES (?, ?, ?, ?, ?)`,
		info.TestName, formatTime(info.StartTime), info.ProbeCC, info.ProbeASN, info.NetworkName)
	if err != nil {
		return 0, s.wrap("begin run", err)
	}
	id, err := res.LastInsertId()
	return id, s.wrap("begin run", err)
}

// FinishRun records the end of a run and its summary (typically the JSON summary
// line of `vantage run --json`).
func (s *Store) FinishRun(ctx context.Context, runID int64, summary []byte) error {
	if summary == nil {
		summary = []byte{}
	}
	// A run's summary is written as the run ends, often because it was cancelled.
	res, err := s.db.ExecContext(context.WithoutCancel(ctx), `UPDATE runs SET finish_time = ?, summary = ? WHERE id = ?`,
		formatTime(s.Now()), summary, runID)
	if err != nil {
		return s.wrap("finish run", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: finish run %d: %w", runID, ErrUnknownRun)
	}
	return nil
}

const runColumns = `r.id, r.test_name, r.start_time, r.probe_cc, r.probe_asn, r.network_name,
	r.finish_time, r.summary, (SELECT count(*) FROM measurements m WHERE m.run_id = r.id)`

func scanRun(row interface{ Scan(...any) error }) (*Run, error) {
	var r Run
	var start string
	var finish sql.NullString
	if err := row.Scan(&r.ID, &r.TestName, &start, &r.ProbeCC, &r.ProbeASN, &r.NetworkName,
		&finish, &r.Summary, &r.Measurements); err != nil {
		return nil, err
	}
	r.StartTime = parseTime(start)
	if finish.Valid {
		r.FinishTime = parseTime(finish.String)
	}
	return &r, nil
}

// Runs returns the latest runs, newest first; limit <= 0 means all.
func (s *Store) Runs(ctx context.Context, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = -1 // sqlite: no limit
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+runColumns+` FROM runs r ORDER BY r.id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, s.wrap("list runs", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, s.wrap("list runs", err)
		}
		out = append(out, *r)
	}
	return out, s.wrap("list runs", rows.Err())
}

// Run returns one run and its measurements in the order they were stored. An
// unknown id gives ErrUnknownRun.
func (s *Store) Run(ctx context.Context, id int64) (*Run, []StoredMeasurement, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs r WHERE r.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("store: run %d: %w", id, ErrUnknownRun)
	}
	if err != nil {
		return nil, nil, s.wrap("read run", err)
	}
	var ms []StoredMeasurement
	err = s.queryMeasurements(ctx, `WHERE m.run_id = ? ORDER BY m.id`, []any{id}, func(m StoredMeasurement) error {
		ms = append(ms, m)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return r, ms, nil
}
