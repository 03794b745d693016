package upload

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/vantage-probe/vantage/report"
)

// LineQueue is a Queue of signed lines held in memory: the lines of bundles
// carried out by hand (vantage upload --bundle). A line is kept once however
// often it is added, so the parts of a split bundle can come in any order and
// overlap; the collector's ingest is idempotent by measurement_uid besides.
type LineQueue struct {
	mu       sync.Mutex
	pending  []Pending
	known    map[string][]byte
	uploaded int
	held     int // 5xx after every attempt: not retried in this drain
}

var _ Queue = (*LineQueue)(nil)

// NewLineQueue returns an empty queue.
func NewLineQueue() *LineQueue { return &LineQueue{known: map[string][]byte{}} }

// Add queues one signed line (without its "\n"). A line whose envelope does not
// parse is refused (the collector would refuse it too); a uid seen before with
// the same bytes is skipped, with other bytes refused.
func (q *LineQueue) Add(line []byte) error {
	s, err := report.ParseSigned(line)
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if prev, ok := q.known[s.MeasurementUID]; ok {
		if !bytes.Equal(prev, line) {
			return fmt.Errorf("uid %s: %w", s.MeasurementUID, report.ErrUIDConflict)
		}
		return nil
	}
	line = bytes.Clone(line)
	q.known[s.MeasurementUID] = line
	q.pending = append(q.pending, Pending{UID: s.MeasurementUID, Line: line})
	return nil
}

// Len is how many distinct lines were added.
func (q *LineQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.known)
}

// Waiting is how many lines have not been acknowledged or refused.
func (q *LineQueue) Waiting() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending) + q.held
}

// PendingUploads returns up to limit lines, in the order added.
func (q *LineQueue) PendingUploads(_ context.Context, limit int) ([]Pending, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if limit <= 0 || limit > len(q.pending) {
		limit = len(q.pending)
	}
	return append([]Pending(nil), q.pending[:limit]...), nil
}

// MarkUploaded drops acknowledged lines.
func (q *LineQueue) MarkUploaded(_ context.Context, uids ...string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, uid := range uids {
		if q.drop(uid) {
			q.uploaded++
		}
	}
	return nil
}

// MarkUploadFailed drops a refused line; a line the collector failed on (5xx)
// is held back for the next drain.
func (q *LineQueue) MarkUploadFailed(_ context.Context, uid string, permanent bool, _ string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.drop(uid) && !permanent {
		q.held++
	}
	return nil
}

func (q *LineQueue) drop(uid string) bool {
	for i, p := range q.pending {
		if p.UID == uid {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			return true
		}
	}
	return false
}
