package upload_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/upload"
	"github.com/vantage-probe/vantage/report/upload/uploadtest"
)

var t0 = time.Date(2022, 1, 5, 10, 0, 0, 0, time.UTC)

// sleeps records the client's waits instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

func newClient(url string, sl *sleeps) *upload.Client {
	return &upload.Client{
		Collector: url,
		HTTP:      &http.Client{Timeout: 5 * time.Second},
		BatchSize: 10,
		Sleep:     sl.sleep,
		Jitter:    func() float64 { return 0.5 },
	}
}

// fill opens a store in dir and queues n signed measurements.
func fill(t testing.TB, dir string, priv ed25519.PrivateKey, n int) (*store.Store, map[string][]byte) {
	t.Helper()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	run, err := s.BeginRun(context.Background(), store.RunInfo{TestName: "web_connectivity", StartTime: t0})
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string][]byte{}
	for i := range n {
		uid := fmt.Sprintf("uid-%03d", i)
		line := uploadtest.SignedLine(t, priv, uid, "https://example.org/", t0, map[string]any{"body": "<b>Доступ</b>\xff"})
		if err := s.SaveMeasurement(context.Background(), run, line, store.MeasurementMeta{UID: uid}, true); err != nil {
			t.Fatal(err)
		}
		lines[uid] = line
	}
	return s, lines
}

func assertCollectorHasExactly(t *testing.T, c *uploadtest.Server, want map[string][]byte) {
	t.Helper()
	got := c.Stored()
	if len(got) != len(want) {
		t.Errorf("collector stores %d measurements, want %d", len(got), len(want))
	}
	for uid, line := range want {
		if !bytes.Equal(got[uid], line) {
			t.Errorf("collector's %s differs from the probe's signed line", uid)
		}
	}
}

func queueStats(t *testing.T, s *store.Store) store.QueueStats {
	t.Helper()
	st, err := s.QueueStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestDrainUploadsEverythingInBatches(t *testing.T) {
	col := uploadtest.NewServer()
	defer col.Close()
	s, lines := fill(t, t.TempDir(), uploadtest.NewKey(t), 25)
	var sl sleeps
	res, err := newClient(col.URL, &sl).Drain(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != 25 || res.Duplicates != 0 || col.Requests() != 3 {
		t.Errorf("result %+v after %d requests; want 25 uploaded in 3 batches of at most 10", res, col.Requests())
	}
	assertCollectorHasExactly(t, col, lines)
	if st := queueStats(t, s); st.Uploaded != 25 || st.Pending != 0 {
		t.Errorf("queue = %+v", st)
	}
	// A second drain has nothing to do.
	if res, err := newClient(col.URL, &sl).Drain(context.Background(), s); err != nil || res.Uploaded+res.Duplicates != 0 || col.Requests() != 3 {
		t.Errorf("second drain: %+v, %v, %d requests", res, err, col.Requests())
	}
}

// TestLostAcknowledgementIsHarmless: the collector stores a batch but the
// connection dies before the answer; the client retries and the collector reports
// duplicates. Then the whole queue is sent again from a fresh store (as after a
// crash before MarkUploaded): still nothing is stored twice.
func TestLostAcknowledgementIsHarmless(t *testing.T) {
	col := uploadtest.NewServer()
	defer col.Close()
	priv := uploadtest.NewKey(t)
	s, lines := fill(t, t.TempDir(), priv, 10)
	col.FailNext(1, uploadtest.Fault{Die: true, StoreFirst: true})
	var sl sleeps
	res, err := newClient(col.URL, &sl).Drain(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != 0 || res.Duplicates != 10 || len(sl.all()) != 1 {
		t.Errorf("result %+v with %d retries; want 10 duplicates after 1 retry", res, len(sl.all()))
	}
	assertCollectorHasExactly(t, col, lines)

	again, _ := fill(t, t.TempDir(), priv, 0)
	run, _ := again.BeginRun(context.Background(), store.RunInfo{StartTime: t0})
	for uid, line := range lines {
		if err := again.SaveMeasurement(context.Background(), run, line, store.MeasurementMeta{UID: uid}, true); err != nil {
			t.Fatal(err)
		}
	}
	res, err = newClient(col.URL, &sl).Drain(context.Background(), again)
	if err != nil || res.Duplicates != 10 || res.Uploaded != 0 {
		t.Errorf("re-upload: %+v, %v; want 10 duplicates", res, err)
	}
	assertCollectorHasExactly(t, col, lines)
	if col.LinesSeen() != 30 {
		t.Errorf("collector saw %d lines, want 30 (10 stored, 10 retried, 10 re-sent)", col.LinesSeen())
	}
}

// TestQueueSurvivesRestarts: while the collector is unreachable and then failing,
// measurements wait in the store across restarts and leave once it is back.
func TestQueueSurvivesRestarts(t *testing.T) {
	dir := t.TempDir()
	priv := uploadtest.NewKey(t)
	s, lines := fill(t, dir, priv, 15)

	// Unreachable: a closed port on loopback.
	dead := uploadtest.NewServer()
	dead.Close()
	var sl sleeps
	c := newClient(dead.URL, &sl)
	c.MaxAttempts = 3
	_, err := c.Drain(context.Background(), s)
	if !errors.Is(err, upload.ErrUnavailable) {
		t.Fatalf("unreachable collector: err = %v, want ErrUnavailable", err)
	}
	p, _ := s.PendingUploads(context.Background(), 0)
	if len(p) != 15 || p[0].Attempts != 0 {
		t.Fatalf("after an unreachable collector: %d pending, attempts %d; want 15 waiting with no attempt counted", len(p), p[0].Attempts)
	}
	s.Close()

	// Restart; the collector answers 503 until the client gives up.
	s, err = store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s.Now = func() time.Time { return now }
	col := uploadtest.NewServer()
	defer col.Close()
	col.FailNext(3, uploadtest.Fault{Status: http.StatusServiceUnavailable})
	c = newClient(col.URL, &sl)
	c.MaxAttempts = 3
	res, err := c.Drain(context.Background(), s)
	if !errors.Is(err, upload.ErrUnavailable) || res.Deferred != 10 {
		t.Fatalf("failing collector: %+v, %v; want the first batch of 10 deferred and ErrUnavailable", res, err)
	}
	s.Close()

	// Restart again, after the queue's backoff: everything goes, exactly once.
	s, err = store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Now = func() time.Time { return now.Add(time.Hour) }
	res, err = newClient(col.URL, &sl).Drain(context.Background(), s)
	if err != nil || res.Uploaded != 15 {
		t.Fatalf("after recovery: %+v, %v; want 15 uploaded", res, err)
	}
	assertCollectorHasExactly(t, col, lines)
	if st := queueStats(t, s); st.Uploaded != 15 || st.Pending != 0 {
		t.Errorf("queue = %+v", st)
	}
}

func TestBackoffGrowsWithJitterAndHonoursRetryAfter(t *testing.T) {
	col := uploadtest.NewServer()
	defer col.Close()
	s, _ := fill(t, t.TempDir(), uploadtest.NewKey(t), 1)
	col.FailNext(3, uploadtest.Fault{Status: http.StatusBadGateway})
	col.FailNext(1, uploadtest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "7"})
	var sl sleeps
	c := newClient(col.URL, &sl)
	jitters := []float64{0, 0.999, 0.5, 0}
	c.Jitter = func() float64 { j := jitters[0]; jitters = jitters[1:]; return j }
	res, err := c.Drain(context.Background(), s)
	if err != nil || res.Uploaded != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	// Equal jitter: half the exponential delay fixed, half random.
	want := []time.Duration{500 * time.Millisecond, 1999 * time.Millisecond, 3 * time.Second, 7 * time.Second}
	got := sl.all()
	if len(got) != len(want) {
		t.Fatalf("waits = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Round(time.Millisecond) != want[i] {
			t.Errorf("wait %d = %v, want %v", i+1, got[i], want[i])
		}
	}
}

func TestLongRetryAfterLeavesTheQueueAlone(t *testing.T) {
	col := uploadtest.NewServer()
	defer col.Close()
	s, _ := fill(t, t.TempDir(), uploadtest.NewKey(t), 3)
	col.FailNext(1, uploadtest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "3600"})
	var sl sleeps
	_, err := newClient(col.URL, &sl).Drain(context.Background(), s)
	if !errors.Is(err, upload.ErrUnavailable) || len(sl.all()) != 0 || col.Requests() != 1 {
		t.Fatalf("err = %v, waits %v, %d requests; want ErrUnavailable at once", err, sl.all(), col.Requests())
	}
	p, _ := s.PendingUploads(context.Background(), 0)
	if len(p) != 3 || p[0].Attempts != 0 {
		t.Errorf("rate limiting must not count attempts: %+v", p)
	}
}

// TestBadLinesAreIsolated: a batch the collector refuses is sent line by line; only
// the refused lines are marked rejected, the others are stored.
func TestBadLinesAreIsolated(t *testing.T) {
	col := uploadtest.NewServer()
	defer col.Close()
	priv := uploadtest.NewKey(t)
	s, lines := fill(t, t.TempDir(), priv, 6)
	// The collector already holds different bytes for uid-002 (409 Conflict) ...
	clash := uploadtest.SignedLine(t, priv, "uid-002", "https://elsewhere.example/", t0, nil)
	if res, err := newClient(col.URL, &sleeps{}).Drain(context.Background(), queueOf(clash)); err != nil || res.Uploaded != 1 {
		t.Fatalf("seeding the clash: %+v, %v", res, err)
	}
	// ... and uid-004 is too large for it (413).
	big := uploadtest.SignedLine(t, priv, "uid-big", "https://example.org/", t0, map[string]any{"body": strings.Repeat("x", 64<<10)})
	run, _ := s.BeginRun(context.Background(), store.RunInfo{StartTime: t0})
	if err := s.SaveMeasurement(context.Background(), run, big, store.MeasurementMeta{UID: "uid-big"}, true); err != nil {
		t.Fatal(err)
	}
	col.SetMaxBodyBytes(32 << 10)

	res, err := newClient(col.URL, &sleeps{}).Drain(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != 5 || res.Rejected != 2 || len(res.Rejections) != 2 {
		t.Fatalf("result %+v; want 5 uploaded, 2 rejected", res)
	}
	reasons := map[string]string{}
	for _, r := range res.Rejections {
		reasons[r.UID] = r.Reason
	}
	if !strings.Contains(reasons["uid-002"], "409") || !strings.Contains(reasons["uid-big"], "413") {
		t.Errorf("rejections = %+v", res.Rejections)
	}
	stored := col.Stored()
	for uid, line := range lines {
		if uid != "uid-002" && !bytes.Equal(stored[uid], line) {
			t.Errorf("%s was not stored", uid)
		}
	}
	if !bytes.Equal(stored["uid-002"], clash) {
		t.Error("the collector's earlier uid-002 was replaced")
	}
	if st := queueStats(t, s); st.Rejected != 2 || st.Uploaded != 5 || st.Pending != 0 {
		t.Errorf("queue = %+v", st)
	}
}

// memQueue is a queue that can hold lines the store would refuse.
type memQueue struct {
	mu       sync.Mutex
	pending  []upload.Pending
	uploaded []string
	rejected map[string]string
}

func queueOf(lines ...[]byte) *memQueue {
	q := &memQueue{rejected: map[string]string{}}
	for _, l := range lines {
		uid := "unreadable"
		if s, err := report.ParseSigned(l); err == nil {
			uid = s.MeasurementUID
		}
		q.pending = append(q.pending, upload.Pending{UID: uid, Line: l})
	}
	return q
}

func (q *memQueue) PendingUploads(_ context.Context, limit int) ([]upload.Pending, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]upload.Pending(nil), q.pending[:min(limit, len(q.pending))]...), nil
}

func (q *memQueue) drop(uid string) {
	for i, p := range q.pending {
		if p.UID == uid {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			return
		}
	}
}

func (q *memQueue) MarkUploaded(_ context.Context, uids ...string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, u := range uids {
		q.drop(u)
		q.uploaded = append(q.uploaded, u)
	}
	return nil
}

func (q *memQueue) MarkUploadFailed(_ context.Context, uid string, permanent bool, msg string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if permanent {
		q.drop(uid)
		q.rejected[uid] = msg
	}
	return nil
}

var _ upload.Queue = (*memQueue)(nil)

func TestBadSignatureIsRejectedAlone(t *testing.T) {
	col := uploadtest.NewServer()
	defer col.Close()
	priv := uploadtest.NewKey(t)
	a := uploadtest.SignedLine(t, priv, "a", "x", t0, nil)
	b := bytes.Replace(uploadtest.SignedLine(t, priv, "b", "x", t0, nil), []byte(`"KZ"`), []byte(`"RU"`), 1)
	c := uploadtest.SignedLine(t, priv, "c", "x", t0, nil)
	q := queueOf(a, b, c)
	res, err := newClient(col.URL, &sleeps{}).Drain(context.Background(), q)
	if err != nil || res.Uploaded != 2 || res.Rejected != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	if !strings.Contains(q.rejected["b"], "400") || strings.Join(q.uploaded, ",") != "a,c" {
		t.Errorf("rejected %v, uploaded %v", q.rejected, q.uploaded)
	}
}

// TestNotTheCollectorMarksNothing: a captive portal or a block page answering 200
// with HTML, a 404 from a wrong URL, or a 415 must never mark anything uploaded.
func TestNotTheCollectorMarksNothing(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"captive portal", 200, "<html>Please log in</html>", upload.ErrUnavailable},
		{"partial acknowledgement", 200, `{"stored":1,"results":[{"measurement_uid":"uid-000","status":"stored"}]}`, upload.ErrUnavailable},
		{"wrong URL", 404, "not found", upload.ErrProtocol},
		{"wrong content type", 415, `{"error":"no"}`, upload.ErrProtocol},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.status)
				w.Write([]byte(c.body))
			}))
			defer srv.Close()
			s, _ := fill(t, t.TempDir(), uploadtest.NewKey(t), 2)
			_, err := newClient(srv.URL, &sleeps{}).Drain(context.Background(), s)
			if !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
			if st := queueStats(t, s); st.Pending != 2 || st.Uploaded != 0 {
				t.Errorf("queue = %+v; want both still pending", st)
			}
		})
	}
}

func TestCancelStopsWithoutLoss(t *testing.T) {
	col := uploadtest.NewServer()
	defer col.Close()
	s, _ := fill(t, t.TempDir(), uploadtest.NewKey(t), 3)
	col.FailNext(5, uploadtest.Fault{Status: http.StatusServiceUnavailable})
	ctx, cancel := context.WithCancel(context.Background())
	c := newClient(col.URL, &sleeps{})
	c.Sleep = func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }
	_, err := c.Drain(ctx, s)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	p, _ := s.PendingUploads(context.Background(), 0)
	if len(p) != 3 || p[0].Attempts != 0 {
		t.Errorf("after cancel: %+v; want 3 pending, untouched", p)
	}
}

func TestRetryAfterForms(t *testing.T) {
	col := uploadtest.NewServer()
	defer col.Close()
	s, _ := fill(t, t.TempDir(), uploadtest.NewKey(t), 1)
	col.FailNext(1, uploadtest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)})
	col.FailNext(1, uploadtest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "soon"})
	var sl sleeps
	if _, err := newClient(col.URL, &sl).Drain(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	got := sl.all()
	// An HTTP date about 90 s ahead (whole seconds); garbage falls back to backoff.
	if len(got) != 2 || got[0] < 80*time.Second || got[0] > 91*time.Second || got[1] != 1500*time.Millisecond {
		t.Errorf("waits = %v; want ~90s then the 2nd backoff step with jitter 0.5 (1.5s)", got)
	}
}
