package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockFileName is the run lock inside the data directory.
const LockFileName = "run.lock"

// ErrLocked is returned by Lock when another vantage run holds the lock.
var ErrLocked = errors.New("another vantage run is in progress")

// LockError tells which process holds the lock, when it is known.
type LockError struct {
	Path string
	PID  int // 0 when unknown
}

func (e *LockError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("%v (pid %d holds %s)", ErrLocked, e.PID, e.Path)
	}
	return fmt.Sprintf("%v (%s is held)", ErrLocked, e.Path)
}

func (e *LockError) Unwrap() error { return ErrLocked }

// Lock takes the run lock of a data directory without waiting: an advisory lock
// (flock on Unix, LockFileEx on Windows) on dir/run.lock, which the kernel releases when the process dies, so a
// crashed or killed run never leaves a stale lock behind. The file holds the
// holder's pid for the message of the next run. release unlocks.
func Lock(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("runner: lock: %w", err)
	}
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("runner: lock: %w", err)
	}
	if err := tryLock(f); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, errWouldBlock) {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(holder)))
			return nil, &LockError{Path: path, PID: pid}
		}
		return nil, fmt.Errorf("runner: lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = f.Truncate(0)
		_ = unlock(f)
		f.Close()
	}, nil
}
