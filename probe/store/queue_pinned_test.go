package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/upload/uploadtest"
)

// TestQueueBackoffSchedule pins the queue's whole retry schedule (docs/storage.md:
// 1 min, doubling per failed attempt, capped at 6 h): after each transient failure
// the entry is not due one second before its wait and is due at it.
func TestQueueBackoffSchedule(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	now := t0
	s.Now = func() time.Time { return now }
	save(t, s, beginRun(t, s), uploadtest.NewKey(t), "b0", t0, true)
	want := []time.Duration{
		time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 32 * time.Minute,
		64 * time.Minute, 128 * time.Minute, 256 * time.Minute, 6 * time.Hour, 6 * time.Hour,
	}
	for i, wait := range want {
		if err := s.MarkUploadFailed(ctx, "b0", false, "HTTP 503"); err != nil {
			t.Fatal(err)
		}
		failedAt := now
		now = failedAt.Add(wait - time.Second)
		if p, _ := s.PendingUploads(ctx, 0); len(p) != 0 {
			t.Fatalf("failure %d: due after %v, want a wait of %v", i+1, wait-time.Second, wait)
		}
		if st, _ := s.QueueStats(ctx); st.Pending != 1 || st.Due != 0 {
			t.Fatalf("failure %d: stats %+v one second early, want 1 pending, 0 due", i+1, st)
		}
		now = failedAt.Add(wait)
		p, err := s.PendingUploads(ctx, 0)
		if err != nil || len(p) != 1 || p[0].Attempts != i+1 {
			t.Fatalf("failure %d: after %v pending %+v (%v), want b0 with %d attempts", i+1, wait, p, err, i+1)
		}
		if st, _ := s.QueueStats(ctx); st.Due != 1 {
			t.Fatalf("failure %d: stats %+v at the due time, want 1 due", i+1, st)
		}
	}
}

// TestQueueOrderAndLimits: entries come oldest due first (ties in saving order);
// limit 0 or below means all, a positive limit is exact.
func TestQueueOrderAndLimits(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	now := t0
	s.Now = func() time.Time { return now }
	run, priv := beginRun(t, s), uploadtest.NewKey(t)
	for i := range 5 {
		save(t, s, run, priv, fmt.Sprintf("o%d", i), t0, true)
	}
	// o1 fails once: due a minute later than the others, so it comes last.
	if err := s.MarkUploadFailed(ctx, "o1", false, "HTTP 500"); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(time.Hour)
	uids := func(limit int) string {
		p, err := s.PendingUploads(ctx, limit)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range p {
			out = append(out, e.UID)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		limit int
		want  string
	}{{0, "o0,o2,o3,o4,o1"}, {-3, "o0,o2,o3,o4,o1"}, {1, "o0"}, {4, "o0,o2,o3,o4"}, {5, "o0,o2,o3,o4,o1"}, {9, "o0,o2,o3,o4,o1"}} {
		if got := uids(c.limit); got != c.want {
			t.Errorf("limit %d: %s, want %s", c.limit, got, c.want)
		}
	}
	// Rejected and uploaded entries are never due again, whatever the time.
	if err := s.MarkUploadFailed(ctx, "o2", true, "HTTP 400"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkUploaded(ctx, "o3", "unknown-uid"); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(1000 * time.Hour)
	if got := uids(0); got != "o0,o4,o1" {
		t.Errorf("after marking: %s, want o0,o4,o1", got)
	}
	if st, err := s.QueueStats(ctx); err != nil || st.Pending != 3 || st.Due != 3 || st.Uploaded != 1 || st.Rejected != 1 {
		t.Errorf("stats %+v, %v", st, err)
	}
}
