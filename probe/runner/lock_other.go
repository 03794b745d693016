//go:build !unix && !windows

package runner

import (
	"errors"
	"os"
)

// QUIRK: without flock or LockFileEx (plan9, wasm) the lock is only a pid file: O_EXCL creation
// would survive a crash and block every later run, so no exclusion is attempted.
var errWouldBlock = errors.New("would block")

func tryLock(*os.File) error { return nil }
func unlock(*os.File) error  { return nil }
