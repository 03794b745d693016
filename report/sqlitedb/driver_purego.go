//go:build !cgo || purego

package sqlitedb

import (
	"errors"
	"net/url"
	"strconv"

	"modernc.org/sqlite"
)

// DriverName is the database/sql driver this build registers.
const DriverName = "sqlite"

// Driver names the sqlite implementation in this build, for --version.
const Driver = "modernc.org/sqlite (pure Go)"

// setCacheSize: modernc.org/sqlite has no _cache_size shorthand; its _pragma key
// runs the statement on every new connection.
func setCacheSize(q url.Values, kib int) { q.Add("_pragma", "cache_size(-"+strconv.Itoa(kib)+")") }

// driverCode: modernc's Code() is the extended result code; its low byte is the
// primary code (https://www.sqlite.org/rescode.html#extrc).
func driverCode(err error) (primary, extended int, ok bool) {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return 0, 0, false
	}
	return se.Code() & 0xff, se.Code(), true
}
