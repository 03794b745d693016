package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Filter selects measurements; an empty field matches everything. Since is
// inclusive and Until exclusive, on measurement_start_time.
type Filter struct {
	ProbeID  string
	ProbeCC  string
	ProbeASN string
	TestName string
	Input    string
	Domain   string
	Verdict  string
	Method   string
	Since    time.Time
	Until    time.Time
}

// where renders the filter as a WHERE clause with bound parameters.
func (f Filter) where() (string, []any) {
	var conds []string
	var args []any
	eq := func(col, v string) {
		if v != "" {
			conds = append(conds, col+" = ?")
			args = append(args, v)
		}
	}
	eq("probe_id", f.ProbeID)
	eq("probe_cc", f.ProbeCC)
	eq("probe_asn", f.ProbeASN)
	eq("test_name", f.TestName)
	eq("input", f.Input)
	eq("domain", f.Domain)
	eq("verdict", f.Verdict)
	eq("method", f.Method)
	if !f.Since.IsZero() {
		conds = append(conds, "start_time >= ?")
		args = append(args, f.Since.Unix())
	}
	if !f.Until.IsZero() {
		conds = append(conds, "start_time < ?")
		args = append(args, f.Until.Unix())
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Cursor is a position in the (start_time, id) order that pages are cut along.
type Cursor struct {
	StartTime int64
	ID        int64
}

// Order is the direction of a listing.
type Order int

// Orders: newest first (the list API) and oldest first (the export).
const (
	NewestFirst Order = iota
	OldestFirst
)

const summaryColumns = `id, uid, probe_id, probe_cc, probe_asn, test_name, input, domain, verdict, method, start_time, received_at`

// List returns up to limit summaries matching f in the given order, starting after
// the cursor when there is one.
func (s *DB) List(ctx context.Context, f Filter, after *Cursor, order Order, limit int) ([]Summary, error) {
	where, args := f.where()
	cmp, dir := "<", "DESC"
	if order == OldestFirst {
		cmp, dir = ">", "ASC"
	}
	if after != nil {
		kw := " WHERE "
		if where != "" {
			kw = " AND "
		}
		where += kw + "(start_time, id) " + cmp + " (?, ?)"
		args = append(args, after.StartTime, after.ID)
	}
	query := `SELECT ` + summaryColumns + ` FROM measurements` + where +
		` ORDER BY start_time ` + dir + `, id ` + dir + ` LIMIT ?`
	args = append(args, limit)
	rows, err := s.read.QueryContext(ctx, s.dialect.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("storage: list: %w", err)
	}
	defer rows.Close()
	var out []Summary
	for rows.Next() {
		var m Summary
		var start, received int64
		if err := rows.Scan(&m.ID, &m.UID, &m.ProbeID, &m.ProbeCC, &m.ProbeASN, &m.TestName, &m.Input,
			&m.Domain, &m.Verdict, &m.Method, &start, &received); err != nil {
			return nil, fmt.Errorf("storage: list: %w", err)
		}
		m.StartTime, m.ReceivedAt = time.Unix(start, 0).UTC(), time.Unix(received, 0).UTC()
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: list: %w", err)
	}
	return out, nil
}

// Line returns the signed line of one measurement exactly as it was received.
func (s *DB) Line(ctx context.Context, uid string) ([]byte, error) {
	var line []byte
	err := s.read.QueryRowContext(ctx, s.dialect.q(
		`SELECT l.line FROM measurements m JOIN lines l ON l.id = m.id WHERE m.uid = ?`), uid).Scan(&line)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: line %s: %w", uid, err)
	}
	return line, nil
}

// Export pages. Each page is one short query whose rows are copied into memory
// and released before any line is handed to fn, so a client that reads slowly (or
// not at all) never holds a database connection: it holds at most one page. A page
// ends at exportPage rows or once it holds exportPageBytes of lines, whichever
// comes first (so at most exportPageBytes plus one line, itself at most the
// collector's 16 MiB line limit).
const (
	exportPage      = 500
	exportPageBytes = 4 << 20
)

// Export calls fn with every signed line matching f, oldest first, until fn returns
// an error. No connection is held while fn runs.
func (s *DB) Export(ctx context.Context, f Filter, fn func(line []byte) error) error {
	where, args := f.where()
	kw := " WHERE "
	if where != "" {
		kw = " AND "
	}
	query := s.dialect.q(`SELECT m.id, m.start_time, l.line FROM measurements m JOIN lines l ON l.id = m.id` +
		where + kw + `(m.start_time, m.id) > (?, ?) ORDER BY m.start_time, m.id LIMIT ?`)
	// Columns of the filter are unambiguous: only measurements has them.
	after := Cursor{StartTime: -1 << 62, ID: 0}
	for {
		page, more, err := s.exportPage(ctx, query, append(args[:len(args):len(args)], after.StartTime, after.ID, exportPage), &after)
		if err != nil {
			return err
		}
		for _, line := range page {
			if err := fn(line); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
	}
}

// exportPage reads one page into memory and reports whether there may be more.
func (s *DB) exportPage(ctx context.Context, query string, args []any, after *Cursor) ([][]byte, bool, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("storage: export: %w", err)
	}
	defer rows.Close()
	var page [][]byte
	size := 0
	for rows.Next() {
		var line []byte
		if err := rows.Scan(&after.ID, &after.StartTime, &line); err != nil {
			return nil, false, fmt.Errorf("storage: export: %w", err)
		}
		page = append(page, line)
		if size += len(line); size >= exportPageBytes {
			return page, true, nil // cut by size: the cursor is after the last kept row
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("storage: export: %w", err)
	}
	return page, len(page) == exportPage, nil
}

// ProbeKey returns the public key pinned to a probe id.
func (s *DB) ProbeKey(ctx context.Context, probeID string) (*Probe, error) {
	p := Probe{ProbeID: probeID}
	var first int64
	err := s.read.QueryRowContext(ctx, s.dialect.q(`SELECT public_key, first_seen FROM probes WHERE probe_id = ?`),
		probeID).Scan(&p.PublicKey, &first)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: probe %s: %w", probeID, err)
	}
	p.FirstSeen = time.Unix(first, 0).UTC()
	return &p, nil
}
