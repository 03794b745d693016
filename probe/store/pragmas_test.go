package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestConnectionSettings checks the settings the crash-safety argument rests on, on
// several pooled connections at once (each connection applies its own pragmas).
func TestConnectionSettings(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var conns []interface{ Close() error }
	for range maxOpenConns {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var mode string
		var syncMode, fk, busy int
		c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
		c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode)
		c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk)
		c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy)
		if mode != "wal" || syncMode != 2 || fk != 1 || busy != int(busyTimeout.Milliseconds()) {
			t.Errorf("journal_mode=%s synchronous=%d foreign_keys=%d busy_timeout=%d; want wal, 2 (FULL), 1, %d",
				mode, syncMode, fk, busy, busyTimeout.Milliseconds())
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

func TestRetryDelay(t *testing.T) {
	want := map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 3: 4 * time.Minute, 9: 256 * time.Minute, 10: 6 * time.Hour, 1000: 6 * time.Hour}
	for attempts, d := range want {
		if got := retryDelay(attempts); got != d {
			t.Errorf("retryDelay(%d) = %v, want %v", attempts, got, d)
		}
	}
}

// TestWALIsRestored: a store someone switched out of WAL (sqlite3 shell, a backup
// tool) is switched back on open.
func TestWALIsRestored(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec("PRAGMA journal_mode = DELETE"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Byte 18 of the header is the file format write version: 1 rollback journal, 2 WAL.
	if hdr, err := os.ReadFile(filepath.Join(dir, FileName)); err != nil || hdr[18] != 1 {
		t.Fatalf("premise: the file should have left WAL mode (header byte 18 = %d, %v)", hdr[18], err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mode string
	s.db.QueryRow("PRAGMA journal_mode").Scan(&mode)
	if mode != "wal" {
		t.Errorf("journal_mode = %q after reopening, want wal", mode)
	}
}
