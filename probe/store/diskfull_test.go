//go:build linux

package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/sqlitedb"

	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report/upload/uploadtest"
)

// diskFullEnv tells the re-executed test binary that it runs inside its own mount
// namespace and where to mount the small file system.
const diskFullEnv = "VANTAGE_TEST_DISKFULL_DIR"

// diskFullSize is the tmpfs under the store: room for the database, its WAL and a
// few measurements, small enough to fill in an instant.
const diskFullSize = 8 << 20

// TestSaveOnAFullDisk fills the file system under a store and checks that a save
// fails with a clear error, that nothing stored before is lost or damaged, and that
// saving works again once space is freed. The file system is a tmpfs mounted in a
// private mount namespace: the test re-executes itself under `unshare -m` (or -rm,
// a user namespace, when not root), so nothing is mounted where anyone else can see.
func TestSaveOnAFullDisk(t *testing.T) {
	if dir := os.Getenv(diskFullEnv); dir != "" {
		diskFullInNamespace(t, dir)
		return
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("needs unshare(1) to mount a small tmpfs in a private mount namespace")
	}
	flag := "-m"
	if os.Geteuid() != 0 {
		flag = "-rm"
	}
	dir := t.TempDir()
	cmd := exec.Command(unshare, flag, "--propagation", "private", "--",
		os.Args[0], "-test.run", "^TestSaveOnAFullDisk$", "-test.count", "1", "-test.v")
	cmd.Env = append(os.Environ(), diskFullEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	switch {
	case bytes.Contains(out, []byte("--- SKIP")):
		t.Skipf("in the mount namespace: %s", out)
	case err != nil && !bytes.Contains(out, []byte("=== RUN")):
		t.Skipf("cannot create a private mount namespace (needs root or unprivileged user namespaces): %v: %s", err, out)
	case err != nil || !bytes.Contains(out, []byte("--- PASS")):
		t.Fatalf("in the mount namespace: %v\n%s", err, out)
	}
	t.Logf("in the mount namespace:\n%s", out)
}

// diskFullInNamespace is the test proper, in the private mount namespace.
func diskFullInNamespace(t *testing.T, dir string) {
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", diskFullSize)); err != nil {
		t.Skipf("mount a tmpfs on %s: %v", dir, err)
	}
	ctx := context.Background()
	data := filepath.Join(dir, "data")
	s, err := store.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	priv := uploadtest.NewKey(t)
	run := beginRun(t, s)
	saved := map[string][]byte{}
	for i := range 20 {
		uid := fmt.Sprintf("before-%d", i)
		saved[uid] = save(t, s, run, priv, uid, t0.Add(time.Duration(i)*time.Minute), true)
	}

	// A measurement with a 1 MiB body: more than the WAL already holds, so saving it
	// needs new blocks whatever sqlite reuses.
	bigUID := "big-after-full"
	big := uploadtest.SignedLine(t, priv, bigUID, "https://example.org/", t0.Add(time.Hour),
		map[string]any{"verdict": "ok", "body": strings.Repeat("x", 1<<20)})
	bigMeta := store.MeasurementMeta{UID: bigUID, TestName: "web_connectivity", Input: "https://example.org/", Verdict: "ok", StartTime: t0.Add(time.Hour)}

	filler := filepath.Join(dir, "filler")
	free := fillDisk(t, filler)
	if free != 0 {
		t.Fatalf("after filling, %d blocks are still free", free)
	}
	t.Logf("disk filled: %d bytes of filler", fileSize(t, filler))

	err = s.SaveMeasurement(ctx, run, big, bigMeta, true)
	switch {
	case err == nil:
		t.Fatal("SaveMeasurement on a full disk succeeded")
	case !sqlitedb.Is(err, sqlitedb.CodeFull):
		t.Errorf("SaveMeasurement on a full disk: %v; want sqlite's SQLITE_FULL", err)
	case !strings.Contains(err.Error(), s.Path()) || !strings.Contains(err.Error(), "full") || !strings.Contains(err.Error(), bigUID):
		t.Errorf("error %q does not name the file, the measurement and the cause", err)
	}
	t.Logf("save on a full disk: %v", err)
	// Small saves may still fit in blocks sqlite already holds, or fail the same
	// way; either is fine, as long as each is whole or absent (checked below).
	fit := 0
	for i := range 50 {
		uid := fmt.Sprintf("during-%d", i)
		line := uploadtest.SignedLine(t, priv, uid, "https://example.org/", t0.Add(2*time.Hour), map[string]any{"verdict": "ok"})
		meta := store.MeasurementMeta{UID: uid, TestName: "web_connectivity", Input: "https://example.org/", Verdict: "ok", StartTime: t0.Add(2 * time.Hour)}
		if err := s.SaveMeasurement(ctx, run, line, meta, true); err == nil {
			saved[uid] = line
			fit++
		} else if !sqlitedb.Is(err, sqlitedb.CodeFull) {
			t.Errorf("small save on a full disk: %v; want SQLITE_FULL", err)
		}
	}
	t.Logf("%d of 50 small saves fitted in blocks sqlite already held", fit)
	checkStoreHolds(t, s, saved, "while the disk is full")

	// Space freed: the same store saves again, the refused measurement included.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveMeasurement(ctx, run, big, bigMeta, true); err != nil {
		t.Fatalf("SaveMeasurement after freeing space: %v", err)
	}
	saved[bigUID] = big
	saved["after"] = save(t, s, run, priv, "after", t0.Add(3*time.Hour), true)
	checkStoreHolds(t, s, saved, "after freeing space")
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	s2, err := store.Open(data)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	checkStoreHolds(t, s2, saved, "after reopening")
	db, err := sql.Open(sqlitedb.DriverName, s2.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Errorf("integrity_check: %q %v", res, err)
	}
}

// fillDisk writes path until the file system refuses a single byte and returns
// the free blocks statfs reports then.
func fillDisk(t *testing.T, path string) uint64 {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, size := range []int{1 << 20, 64 << 10, 4 << 10, 512, 1} {
		chunk := make([]byte, size)
		for {
			if _, err := f.Write(chunk); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("fill %s: %v", path, err)
				}
				break
			}
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		t.Fatal(err)
	}
	return st.Bavail
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// checkStoreHolds checks that s holds exactly want (uid → signed line), byte for
// byte, each queued for upload once.
func checkStoreHolds(t *testing.T, s *store.Store, want map[string][]byte, when string) {
	t.Helper()
	ctx := context.Background()
	got := map[string][]byte{}
	err := s.MeasurementsSince(ctx, time.Time{}, func(m store.StoredMeasurement) error {
		if _, dup := got[m.UID]; dup {
			t.Errorf("%s: %s stored twice", when, m.UID)
		}
		got[m.UID] = m.Line
		return nil
	})
	if err != nil {
		t.Fatalf("%s: read measurements: %v", when, err)
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d measurements stored, want %d", when, len(got), len(want))
	}
	for uid, line := range want {
		if !bytes.Equal(got[uid], line) {
			t.Errorf("%s: %s lost or altered", when, uid)
		}
	}
	pending, err := s.PendingUploads(ctx, 0)
	if err != nil {
		t.Fatalf("%s: pending uploads: %v", when, err)
	}
	queued := map[string]bool{}
	for _, p := range pending {
		if queued[p.UID] || want[p.UID] == nil {
			t.Errorf("%s: queue holds %s twice or without its measurement", when, p.UID)
		}
		queued[p.UID] = true
		if !bytes.Equal(p.Line, want[p.UID]) {
			t.Errorf("%s: queued line of %s differs", when, p.UID)
		}
	}
	if len(queued) != len(want) {
		t.Errorf("%s: %d queued, want %d", when, len(queued), len(want))
	}
}
