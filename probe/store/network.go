package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// ConnectivityRecord is one network verdict, kept so that a probe can show (and a
// later run can reason about) how a network's reachability changed over time.
type ConnectivityRecord struct {
	Time       time.Time
	ProbeCC    string
	ProbeASN   string
	NetworkKey string
	Verdict    string
	Evidence   []byte
}

// NetworkInfo describes a network the probe has been on.
type NetworkInfo struct {
	Key      string
	ProbeCC  string
	ProbeASN string
	Name     string
	Seen     time.Time // the latest time; FirstSeen keeps the first
	// FirstSeen is filled by NetworkInfo and ignored by SetNetworkInfo.
	FirstSeen time.Time
}

// AddConnectivity appends one record to the connectivity history.
func (s *Store) AddConnectivity(ctx context.Context, r ConnectivityRecord) error {
	if r.Evidence == nil {
		r.Evidence = []byte{}
	}
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO connectivity_history (time, probe_cc, probe_asn, network_key, verdict, evidence) VALUES (?, ?, ?, ?, ?, ?)`,
		formatTime(r.Time), r.ProbeCC, r.ProbeASN, r.NetworkKey, r.Verdict, r.Evidence)
	return s.wrap("add connectivity", err)
}

// ConnectivityHistory returns the records at or after since, oldest first.
func (s *Store) ConnectivityHistory(ctx context.Context, since time.Time) ([]ConnectivityRecord, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT time, probe_cc, probe_asn, network_key, verdict, evidence FROM connectivity_history
		 WHERE time >= ? ORDER BY time, id`, formatTime(since))
	if err != nil {
		return nil, s.wrap("read connectivity history", err)
	}
	defer rows.Close()
	var out []ConnectivityRecord
	for rows.Next() {
		var r ConnectivityRecord
		var t string
		if err := rows.Scan(&t, &r.ProbeCC, &r.ProbeASN, &r.NetworkKey, &r.Verdict, &r.Evidence); err != nil {
			return nil, s.wrap("read connectivity history", err)
		}
		r.Time = parseTime(t)
		out = append(out, r)
	}
	return out, s.wrap("read connectivity history", rows.Err())
}

// SetNetworkInfo records (or updates) a network; the first time it was seen is kept.
func (s *Store) SetNetworkInfo(ctx context.Context, n NetworkInfo) error {
	seen := formatTime(n.Seen)
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO networks (key, probe_cc, probe_asn, name, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
		 ON CONFLICT (key) DO UPDATE SET probe_cc = excluded.probe_cc, probe_asn = excluded.probe_asn,
		   name = excluded.name, last_seen = max(last_seen, excluded.last_seen)`,
		n.Key, n.ProbeCC, n.ProbeASN, n.Name, seen, seen)
	return s.wrap("set network info", err)
}

// NetworkInfo returns what is known about a network, or nil, nil when nothing is.
func (s *Store) NetworkInfo(ctx context.Context, key string) (*NetworkInfo, error) {
	var n NetworkInfo
	var first, last string
	err := s.db.QueryRowContext(ctx,
		`SELECT key, probe_cc, probe_asn, name, first_seen, last_seen FROM networks WHERE key = ?`, key).
		Scan(&n.Key, &n.ProbeCC, &n.ProbeASN, &n.Name, &first, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, s.wrap("read network info", err)
	}
	n.FirstSeen, n.Seen = parseTime(first), parseTime(last)
	return &n, nil
}
