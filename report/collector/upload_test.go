package collector_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/upload"
)

// memQueue is an in-memory upload queue (the probe's store holds only lines that
// verify, and this test also needs lines the collector must refuse).
type memQueue struct {
	mu       sync.Mutex
	pending  []upload.Pending
	uploaded []string
	rejected map[string]string
}

func (q *memQueue) PendingUploads(_ context.Context, limit int) ([]upload.Pending, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.pending[:min(limit, len(q.pending))]), nil
}

func (q *memQueue) MarkUploaded(_ context.Context, uids ...string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.uploaded = append(q.uploaded, uids...)
	q.pending = slices.DeleteFunc(q.pending, func(p upload.Pending) bool { return slices.Contains(uids, p.UID) })
	return nil
}

func (q *memQueue) MarkUploadFailed(_ context.Context, uid string, permanent bool, msg string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !permanent {
		return fmt.Errorf("unexpected temporary failure of %s: %s", uid, msg)
	}
	q.rejected[uid] = msg
	q.pending = slices.DeleteFunc(q.pending, func(p upload.Pending) bool { return p.UID == uid })
	return nil
}

// TestProbeUploadClientAgainstCollector runs the probe's real upload client against
// the real collector: good lines are stored, the two bad ones are isolated and
// refused for good, and nothing is stored twice.
func TestProbeUploadClientAgainstCollector(t *testing.T) {
	c := collectortest.New(t, collectortest.SQLite)
	p := collectortest.NewProbe(t)
	q := &memQueue{rejected: map[string]string{}}
	var want []string
	for i := range 60 {
		line := p.SignSpec(t, webSpec(fmt.Sprintf("https://site%d.example/", i), t0.Add(time.Duration(i)*time.Minute)))
		s, _ := report.Verify(line)
		q.pending = append(q.pending, upload.Pending{UID: s.MeasurementUID, Line: line})
		want = append(want, s.MeasurementUID)
	}
	// Already on the collector with other bytes: 409.
	prior := collectortest.NewMeasurement(webSpec("https://prior.example/", t0))
	if status, _ := post(t, c, "application/json", p.Sign(t, prior)); status != 200 {
		t.Fatal("setup upload failed")
	}
	replay := *prior
	replay.TestRuntime = 99
	// A valid signature over a bad shape: 400.
	badShape := p.SignSpec(t, spec("kz", "AS9198", "web_connectivity", "", "", "", t0))
	bs, _ := report.Verify(badShape)
	q.pending = slices.Insert(q.pending, 10, upload.Pending{UID: prior.MeasurementUID, Line: p.Sign(t, &replay)})
	q.pending = slices.Insert(q.pending, 40, upload.Pending{UID: bs.MeasurementUID, Line: badShape})

	client := &upload.Client{Collector: c.URL, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}
	res, err := client.Drain(context.Background(), q)
	if err != nil {
		t.Fatalf("drain: %v", err)
	}
	if res.Uploaded != 60 || res.Rejected != 2 || len(q.pending) != 0 {
		t.Errorf("result %+v, %d still pending", res, len(q.pending))
	}
	if _, ok := q.rejected[prior.MeasurementUID]; !ok {
		t.Errorf("the replayed uid was not rejected: %v", q.rejected)
	}
	if _, ok := q.rejected[bs.MeasurementUID]; !ok {
		t.Errorf("the bad shape was not rejected: %v", q.rejected)
	}
	got := stored(t, c)
	want = append(want, prior.MeasurementUID)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("collector holds %d measurements, want %d", len(got), len(want))
	}
}
