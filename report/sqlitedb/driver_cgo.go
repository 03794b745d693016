//go:build cgo && !purego

package sqlitedb

import (
	"errors"
	"net/url"
	"strconv"

	"github.com/mattn/go-sqlite3"
)

// DriverName is the database/sql driver this build registers.
const DriverName = "sqlite3"

// Driver names the sqlite implementation in this build, for --version.
const Driver = "mattn/go-sqlite3 (cgo)"

func setCacheSize(q url.Values, kib int) { q.Set("_cache_size", "-"+strconv.Itoa(kib)) }

func driverCode(err error) (primary, extended int, ok bool) {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return 0, 0, false
	}
	return int(se.Code), int(se.ExtendedCode), true
}
