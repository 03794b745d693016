package runner

import (
	"os"

	"golang.org/x/sys/windows"
)

// errWouldBlock is what LockFileEx with LOCKFILE_FAIL_IMMEDIATELY returns when
// another handle holds the range.
var errWouldBlock = windows.ERROR_LOCK_VIOLATION

// lockRange is the byte range locked: one byte far past the end of the file.
// QUIRK: a Windows byte-range lock is mandatory (other processes cannot read the
// locked bytes), so locking byte 0 would hide the holder's pid from the next run;
// Windows allows locking beyond the end of a file. Windows releases the lock
// when the holding process exits, as flock does.
const lockOffsetHigh = 0x7fffffff

func tryLock(f *os.File) error {
	ol := &windows.Overlapped{OffsetHigh: lockOffsetHigh}
	return windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
}

func unlock(f *os.File) error {
	ol := &windows.Overlapped{OffsetHigh: lockOffsetHigh}
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, ol)
}
