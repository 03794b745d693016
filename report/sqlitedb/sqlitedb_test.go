package sqlitedb

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestOptionsApplied: every option reaches the connection, in whichever driver
// this build carries (make test runs this package with and without -tags purego).
func TestOptionsApplied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a?b#c%d.db") // characters that end a URI path
	db, err := Open(path, Options{Synchronous: "FULL", JournalWAL: true, ForeignKeys: true,
		BusyTimeout: 1234 * time.Millisecond, CacheKiB: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for pragma, want := range map[string]string{
		"synchronous": "2", "journal_mode": "wal", "foreign_keys": "1",
		"busy_timeout": "1234", "cache_size": "-4096",
	} {
		var got string
		if err := db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatalf("%s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s (driver %s)", pragma, got, want, Driver)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the file was not created under its own name: %v", err)
	}
}

// TestCodes: the codes callers branch on are read from each driver's errors.
func TestCodes(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(filepath.Join(dir, "fk.db"), Options{ForeignKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE p (id INTEGER PRIMARY KEY)`,
		`CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER NOT NULL REFERENCES p(id))`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	_, err = db.Exec(`INSERT INTO c (p) VALUES (42)`)
	if !Is(err, CodeConstraintForeignKey) {
		t.Errorf("foreign key violation: %v is not CodeConstraintForeignKey", err)
	}
	if Is(err, CodeCorrupt) {
		t.Errorf("foreign key violation read as corrupt")
	}
	if p, _, ok := Code(err); !ok || p != 19 { // SQLITE_CONSTRAINT
		t.Errorf("primary code %d, %v; want 19", p, ok)
	}

	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte("this is not an sqlite database, just text long enough to be read as a header......."), 0o600); err != nil {
		t.Fatal(err)
	}
	bad, err := Open(junk, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	_, err = bad.Exec(`SELECT * FROM sqlite_master`)
	if !Is(err, CodeNotADB) {
		t.Errorf("junk file: %v is not CodeNotADB", err)
	}
	if _, _, ok := Code(os.ErrNotExist); ok {
		t.Errorf("a Go error carries no sqlite code")
	}
}
