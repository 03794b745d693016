package config

import (
	"fmt"
	"os"

	"github.com/vantage-probe/vantage/report/limits"
)

// CheckDataDir makes sure dir, the probe's data directory ([storage] dir or the
// per-user default), exists or can be created, is a directory, and can be written.
// A problem is a configuration error naming storage.dir: the volunteer fixes it
// there, and a script sees exit status 2 rather than a failure of the run.
func CheckDataDir(dir string) error {
	bad := func(err error) error {
		return &Error{Key: "storage.dir", Msg: fmt.Sprintf("%s is not a usable data directory: %v", limits.Quote(dir), err)}
	}
	if dir == "" {
		return &Error{Key: "storage.dir", Msg: "is empty"}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return bad(err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return bad(err)
	} else if !fi.IsDir() {
		return bad(fmt.Errorf("not a directory"))
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return bad(err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return bad(err)
	}
	return nil
}
