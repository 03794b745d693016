// Package sqlitedb opens sqlite database files through whichever sqlite driver
// this build carries: github.com/mattn/go-sqlite3 (cgo, the design's choice) by
// default, modernc.org/sqlite (pure Go) when cgo is off or the build has the
// `purego` tag, so that a release can be cross-built for an OS that no C cross
// compiler on the build machine serves (macOS from Linux). Both drivers read the
// same DSN keys, and Code reads both drivers' error codes, so the store and the
// collector never name a driver.
package sqlitedb

import (
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Primary and extended sqlite result codes the callers tell apart
// (https://www.sqlite.org/rescode.html). They are sqlite's own numbers, the same
// in every driver.
const (
	CodeCorrupt              = 11
	CodeFull                 = 13
	CodeNotADB               = 26
	CodeConstraintForeignKey = 787 // SQLITE_CONSTRAINT | 3<<8
)

// Options are the connection settings vantage uses. The zero value opens the
// file with sqlite's defaults.
type Options struct {
	// Synchronous is PRAGMA synchronous ("FULL", "NORMAL"); empty keeps the default.
	Synchronous string
	// JournalWAL switches the file to write-ahead logging at open.
	JournalWAL bool
	// ForeignKeys turns foreign key enforcement on.
	ForeignKeys bool
	// BusyTimeout is how long a statement waits for another connection's lock.
	BusyTimeout time.Duration
	// TxImmediate makes BEGIN take the write lock at once.
	TxImmediate bool
	// CacheKiB bounds the page cache per connection (0: sqlite's default).
	CacheKiB int
	// ReadOnly opens the file read-only.
	ReadOnly bool
}

// Open opens path (a file path, not a URI) with o. Like sql.Open it does not
// touch the file yet; the first statement does.
func Open(path string, o Options) (*sql.DB, error) {
	db, err := sql.Open(DriverName, DSN(path, o))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return db, nil
}

// DSN is the data source name for path and o in the keys both drivers read
// (_busy_timeout, _foreign_keys, ...; modernc.org/sqlite accepts mattn's).
func DSN(path string, o Options) string {
	q := url.Values{}
	if o.Synchronous != "" {
		q.Set("_synchronous", o.Synchronous)
	}
	if o.JournalWAL {
		q.Set("_journal_mode", "WAL")
	}
	if o.ForeignKeys {
		q.Set("_foreign_keys", "on")
	}
	if o.BusyTimeout > 0 {
		q.Set("_busy_timeout", fmt.Sprint(o.BusyTimeout.Milliseconds()))
	}
	if o.TxImmediate {
		q.Set("_txlock", "immediate")
	}
	if o.ReadOnly {
		q.Set("mode", "ro")
	}
	if o.CacheKiB > 0 {
		setCacheSize(q, o.CacheKiB)
	}
	return "file:" + uriPath(path) + "?" + q.Encode()
}

// uriPath escapes the characters that would end the path part of a sqlite URI
// filename (https://www.sqlite.org/uri.html).
func uriPath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// Code returns the primary and extended result codes of a driver error, and
// false when err carries none (a Go-side error, a closed database).
func Code(err error) (primary, extended int, ok bool) { return driverCode(err) }

// Is reports whether err carries the sqlite result code code: a primary code
// (CodeFull) matches every extended code built on it, an extended code
// (CodeConstraintForeignKey) only itself.
func Is(err error, code int) bool {
	primary, extended, ok := Code(err)
	if !ok {
		return false
	}
	if code > 0xff {
		return extended == code
	}
	return primary == code
}
