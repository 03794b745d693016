package upload_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/upload"
)

// These tests count the requests the client makes for each kind of answer
// (docs/storage.md, "What each answer does"), with an HTTP client whose transport
// is a script: no server, so a retried request cannot hide behind a timeout.

// sent is one request as the collector would see it.
type sent struct {
	path, contentType string
	encoding          string
	uids              []string
	body              []byte
}

// scripted answers each request with answer(n, request) (n counts from 1).
type scripted struct {
	mu     sync.Mutex
	reqs   []sent
	answer func(n int, s sent) (int, http.Header, string)
}

func (sc *scripted) RoundTrip(r *http.Request) (*http.Response, error) {
	var in io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		in = zr
	}
	body, _ := io.ReadAll(in)
	s := sent{path: r.URL.Path, contentType: r.Header.Get("Content-Type"), encoding: r.Header.Get("Content-Encoding"), body: body}
	sc2 := bufio.NewScanner(bytes.NewReader(body))
	for sc2.Scan() {
		var head struct {
			UID string `json:"measurement_uid"`
		}
		_ = json.Unmarshal(sc2.Bytes(), &head)
		s.uids = append(s.uids, head.UID)
	}
	sc.mu.Lock()
	sc.reqs = append(sc.reqs, s)
	n := len(sc.reqs)
	sc.mu.Unlock()
	status, h, text := sc.answer(n, s)
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(text)), Request: r}, nil
}

func (sc *scripted) count() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return len(sc.reqs)
}

// ack acknowledges every uid of a request as stored.
func ack(s sent) string {
	var parts []string
	for _, u := range s.uids {
		parts = append(parts, fmt.Sprintf(`{"measurement_uid":%q,"status":"stored"}`, u))
	}
	return `{"results":[` + strings.Join(parts, ",") + `]}`
}

// failCall is one MarkUploadFailed call.
type failCall struct {
	uid       string
	permanent bool
}

// recQueue records what the client marks.
type recQueue struct {
	pending  []upload.Pending
	uploaded []string
	failed   []failCall
}

func newRecQueue(uids ...string) *recQueue {
	q := &recQueue{}
	for _, u := range uids {
		q.pending = append(q.pending, upload.Pending{UID: u, Line: []byte(fmt.Sprintf(`{"measurement_uid":%q}`, u))})
	}
	return q
}

func (q *recQueue) PendingUploads(_ context.Context, limit int) ([]upload.Pending, error) {
	if limit <= 0 || limit > len(q.pending) {
		limit = len(q.pending)
	}
	return append([]upload.Pending(nil), q.pending[:limit]...), nil
}

func (q *recQueue) remove(uid string) {
	for i, p := range q.pending {
		if p.UID == uid {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			return
		}
	}
}

func (q *recQueue) MarkUploaded(_ context.Context, uids ...string) error {
	for _, u := range uids {
		q.remove(u)
	}
	q.uploaded = append(q.uploaded, uids...)
	return nil
}

func (q *recQueue) MarkUploadFailed(_ context.Context, uid string, permanent bool, _ string) error {
	if permanent {
		q.remove(uid)
	}
	q.failed = append(q.failed, failCall{uid, permanent})
	// A transient failure is rescheduled by the real queue: not due in this drain.
	q.remove(uid)
	return nil
}

var _ upload.Queue = (*recQueue)(nil)

// scriptClient returns a client on sc whose waits are recorded, not slept.
func scriptClient(sc *scripted, waits *[]time.Duration) *upload.Client {
	return &upload.Client{
		Collector: "http://collector.invalid/",
		HTTP:      &http.Client{Transport: sc},
		Sleep: func(_ context.Context, d time.Duration) error {
			*waits = append(*waits, d)
			return nil
		},
		Jitter: func() float64 { return 0.5 },
	}
}

func status(code int, body string) func(int, sent) (int, http.Header, string) {
	return func(int, sent) (int, http.Header, string) { return code, nil, body }
}

// TestLineFaultsAreSentOnce: a 400, 409, 413 or 422 on a single line is that line's
// fault: exactly one request, the line rejected for good, no wait.
func TestLineFaultsAreSentOnce(t *testing.T) {
	for _, code := range []int{400, 409, 413, 422} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			sc := &scripted{answer: status(code, `{"error":"bad line"}`)}
			var waits []time.Duration
			q := newRecQueue("only")
			res, err := scriptClient(sc, &waits).Drain(context.Background(), q)
			if err != nil {
				t.Fatalf("drain: %v", err)
			}
			if n := sc.count(); n != 1 {
				t.Fatalf("%d requests for a %d, want exactly 1", n, code)
			}
			if len(waits) != 0 {
				t.Errorf("waited %v before giving up on a %d", waits, code)
			}
			if res.Rejected != 1 || len(res.Rejections) != 1 || res.Rejections[0].UID != "only" ||
				!strings.Contains(res.Rejections[0].Reason, fmt.Sprint(code)) || !strings.Contains(res.Rejections[0].Reason, "bad line") {
				t.Errorf("result %+v", res)
			}
			if len(q.failed) != 1 || q.failed[0] != (failCall{"only", true}) || len(q.uploaded) != 0 {
				t.Errorf("queue marks: failed %v uploaded %v, want one permanent failure", q.failed, q.uploaded)
			}
		})
	}
}

// TestBatchLineFaultIsolates: a 400 on a batch of three is followed by exactly one
// request per line; only the refused line is rejected.
func TestBatchLineFaultIsolates(t *testing.T) {
	sc := &scripted{answer: func(n int, s sent) (int, http.Header, string) {
		if len(s.uids) > 1 || s.uids[0] == "b" {
			return 400, nil, `{"error":"bad signature"}`
		}
		return 200, nil, ack(s)
	}}
	var waits []time.Duration
	q := newRecQueue("a", "b", "c")
	res, err := scriptClient(sc, &waits).Drain(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if n := sc.count(); n != 4 {
		t.Fatalf("%d requests, want 4 (the batch, then a, b, c once each)", n)
	}
	var order []string
	for _, r := range sc.reqs {
		order = append(order, strings.Join(r.uids, "+"))
	}
	if got := strings.Join(order, " "); got != "a+b+c a b c" {
		t.Errorf("requests %q, want %q", got, "a+b+c a b c")
	}
	if res.Uploaded != 2 || res.Rejected != 1 || strings.Join(q.uploaded, ",") != "a,c" {
		t.Errorf("result %+v uploaded %v", res, q.uploaded)
	}
}

// TestRequestShape: one line goes as application/json, several as
// application/x-ndjson, each line followed by "\n" (gzip-compressed), to the
// collector's path whether or not its URL ends in a slash.
func TestRequestShape(t *testing.T) {
	sc := &scripted{answer: func(_ int, s sent) (int, http.Header, string) { return 200, nil, ack(s) }}
	var waits []time.Duration
	c := scriptClient(sc, &waits)
	c.BatchSize = 2
	if _, err := c.Drain(context.Background(), newRecQueue("x", "y", "z")); err != nil {
		t.Fatal(err)
	}
	if len(sc.reqs) != 2 {
		t.Fatalf("%d requests, want 2 (batch size 2)", len(sc.reqs))
	}
	want := []struct{ ctype, body string }{
		{"application/x-ndjson", "{\"measurement_uid\":\"x\"}\n{\"measurement_uid\":\"y\"}\n"},
		{"application/json", "{\"measurement_uid\":\"z\"}\n"},
	}
	for i, r := range sc.reqs {
		if r.path != upload.Path || r.contentType != want[i].ctype || r.encoding != "gzip" || string(r.body) != want[i].body {
			t.Errorf("request %d: %s %s %q, want %s %s %q", i, r.path, r.contentType, r.body, upload.Path, want[i].ctype, want[i].body)
		}
	}
}

// TestServerErrorsAndRetryCounts pins how often each answer is tried and what it
// leaves in the queue.
func TestServerErrorsAndRetryCounts(t *testing.T) {
	cases := []struct {
		name       string
		answer     func(int, sent) (int, http.Header, string)
		requests   int
		waits      int
		wantErr    error
		uploaded   int
		transient  int // MarkUploadFailed(permanent=false) calls
		deferred   int
		firstWaits []time.Duration
	}{
		{name: "503 every time: MaxAttempts requests, each line deferred", answer: status(503, "busy"),
			requests: 5, waits: 4, wantErr: upload.ErrUnavailable, transient: 2, deferred: 2,
			firstWaits: []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second, 6 * time.Second}},
		{name: "500 every time", answer: status(500, ""), requests: 5, waits: 4, wantErr: upload.ErrUnavailable, transient: 2, deferred: 2},
		{name: "429 every time: nothing recorded", answer: status(429, ""), requests: 5, waits: 4, wantErr: upload.ErrUnavailable},
		{name: "404: one request, protocol error", answer: status(404, "no"), requests: 1, wantErr: upload.ErrProtocol},
		{name: "401: one request", answer: status(401, ""), requests: 1, wantErr: upload.ErrProtocol},
		{name: "403: one request", answer: status(403, ""), requests: 1, wantErr: upload.ErrProtocol},
		{name: "415: one request", answer: status(415, ""), requests: 1, wantErr: upload.ErrProtocol},
		{name: "499: one request", answer: status(499, ""), requests: 1, wantErr: upload.ErrProtocol},
		{name: "3xx not followed (no Location): one request, protocol error", answer: status(302, ""), requests: 1, wantErr: upload.ErrProtocol},
		{name: "503 then 200: two requests, uploaded", answer: func(n int, s sent) (int, http.Header, string) {
			if n == 1 {
				return 503, nil, ""
			}
			return 200, nil, ack(s)
		}, requests: 2, waits: 1, uploaded: 2, firstWaits: []time.Duration{750 * time.Millisecond}},
		{name: "Retry-After 7 s is waited exactly", answer: func(n int, s sent) (int, http.Header, string) {
			if n == 1 {
				return 429, http.Header{"Retry-After": {"7"}}, ""
			}
			return 200, nil, ack(s)
		}, requests: 2, waits: 1, uploaded: 2, firstWaits: []time.Duration{7 * time.Second}},
		{name: "Retry-After 0 falls back to the backoff", answer: func(n int, s sent) (int, http.Header, string) {
			if n == 1 {
				return 503, http.Header{"Retry-After": {"0"}}, ""
			}
			return 200, nil, ack(s)
		}, requests: 2, waits: 1, uploaded: 2, firstWaits: []time.Duration{750 * time.Millisecond}},
		{name: "Retry-After in the past falls back to the backoff", answer: func(n int, s sent) (int, http.Header, string) {
			if n == 1 {
				return 503, http.Header{"Retry-After": {"Mon, 02 Jan 2006 15:04:05 GMT"}}, ""
			}
			return 200, nil, ack(s)
		}, requests: 2, waits: 1, uploaded: 2, firstWaits: []time.Duration{750 * time.Millisecond}},
		{name: "Retry-After of exactly the maximum (5 min) is waited", answer: func(n int, s sent) (int, http.Header, string) {
			if n == 1 {
				return 429, http.Header{"Retry-After": {"300"}}, ""
			}
			return 200, nil, ack(s)
		}, requests: 2, waits: 1, uploaded: 2, firstWaits: []time.Duration{5 * time.Minute}},
		{name: "Retry-After beyond the maximum: one request, left for later", answer: status(429, ""), requests: 1, wantErr: upload.ErrUnavailable},
		{name: "a year of Retry-After is capped, still beyond: one request", answer: status(503, ""), requests: 1, wantErr: upload.ErrUnavailable, transient: 2, deferred: 2},
		{name: "200 acknowledging one of two: nothing marked", answer: status(200, `{"results":[{"measurement_uid":"m1","status":"stored"}]}`),
			requests: 1, wantErr: upload.ErrUnavailable},
		{name: "200 with an unknown status: nothing marked", answer: status(200, `{"results":[{"measurement_uid":"m1","status":"stored"},{"measurement_uid":"m2","status":"queued"}]}`),
			requests: 1, wantErr: upload.ErrUnavailable},
		{name: "200 with HTML: nothing marked", answer: status(200, `<html>login</html>`), requests: 1, wantErr: upload.ErrUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			answer := c.answer
			switch {
			case strings.HasPrefix(c.name, "Retry-After beyond"):
				answer = func(int, sent) (int, http.Header, string) { return 429, http.Header{"Retry-After": {"301"}}, "" }
			case strings.HasPrefix(c.name, "a year"):
				answer = func(int, sent) (int, http.Header, string) { return 503, http.Header{"Retry-After": {"31536000"}}, "" }
			}
			sc := &scripted{answer: answer}
			var waits []time.Duration
			q := newRecQueue("m1", "m2")
			res, err := scriptClient(sc, &waits).Drain(context.Background(), q)
			if (c.wantErr == nil) != (err == nil) || (c.wantErr != nil && !errors.Is(err, c.wantErr)) {
				t.Fatalf("err %v, want %v", err, c.wantErr)
			}
			if n := sc.count(); n != c.requests {
				t.Errorf("%d requests, want %d", n, c.requests)
			}
			if len(waits) != c.waits {
				t.Errorf("waits %v, want %d", waits, c.waits)
			}
			for i, w := range c.firstWaits {
				if i < len(waits) && waits[i] != w {
					t.Errorf("wait %d = %v, want %v", i, waits[i], w)
				}
			}
			transient := 0
			for _, f := range q.failed {
				if f.permanent {
					t.Errorf("%s marked rejected: only a line fault may reject", f.uid)
				}
				transient++
			}
			if transient != c.transient || res.Deferred != c.deferred || len(q.uploaded) != c.uploaded || res.Uploaded != c.uploaded {
				t.Errorf("transient marks %d (want %d), deferred %d (want %d), uploaded %v (want %d), result %+v",
					transient, c.transient, res.Deferred, c.deferred, q.uploaded, c.uploaded, res)
			}
		})
	}
}

// TestAcknowledgementCounts: "stored" and "duplicate" both mark uploaded and are
// counted apart.
func TestAcknowledgementCounts(t *testing.T) {
	sc := &scripted{answer: status(200, `{"results":[{"measurement_uid":"m1","status":"duplicate"},{"measurement_uid":"m2","status":"stored"},{"measurement_uid":"m3","status":"duplicate"}]}`)}
	var waits []time.Duration
	q := newRecQueue("m1", "m2", "m3")
	res, err := scriptClient(sc, &waits).Drain(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != 1 || res.Duplicates != 2 || len(q.uploaded) != 3 || sc.count() != 1 {
		t.Errorf("result %+v, uploaded %v, %d requests; want 1 stored, 2 duplicates, 1 request", res, q.uploaded, sc.count())
	}
}

// TestTransportErrorsAreRetried: a transport error is retried like a 503 but
// records nothing in the queue.
func TestTransportErrorsAreRetried(t *testing.T) {
	n := 0
	var waits []time.Duration
	c := scriptClient(nil, &waits)
	c.HTTP = &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		n++
		return nil, errors.New("connection refused")
	})}
	q := newRecQueue("m1")
	_, err := c.Drain(context.Background(), q)
	if !errors.Is(err, upload.ErrUnavailable) || n != 5 || len(waits) != 4 || len(q.failed) != 0 || len(q.uploaded) != 0 {
		t.Errorf("err %v, %d requests, waits %v, failed %v; want ErrUnavailable after 5 requests, nothing marked", err, n, waits, q.failed)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// cutBody returns its text, then a read error: a connection lost mid-answer.
type cutBody struct{ r io.Reader }

func (b *cutBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, errors.New("connection reset by peer")
	}
	return n, err
}

func (b *cutBody) Close() error { return nil }

// TestCutAnswers: an acknowledgement cut mid-body is as if it never came (retried,
// nothing marked); a cut refusal is still a refusal (one request, the line
// rejected): only a 200's body matters.
func TestCutAnswers(t *testing.T) {
	for _, c := range []struct {
		status             int
		requests, rejected int
		wantErr            error
	}{
		{200, 5, 0, upload.ErrUnavailable},
		{400, 1, 1, nil},
		{404, 1, 0, upload.ErrProtocol},
	} {
		n := 0
		var waits []time.Duration
		cl := scriptClient(nil, &waits)
		cl.HTTP = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			n++
			body := `{"results":[{"measurement_uid":"m1","status":"stored"}]}`
			if c.status != 200 {
				body = `{"error":"bad line"}`
			}
			return &http.Response{StatusCode: c.status, Header: http.Header{}, Body: &cutBody{strings.NewReader(body)}, Request: r}, nil
		})}
		q := newRecQueue("m1")
		res, err := cl.Drain(context.Background(), q)
		if (c.wantErr == nil) != (err == nil) || (c.wantErr != nil && !errors.Is(err, c.wantErr)) {
			t.Errorf("cut %d: err %v, want %v", c.status, err, c.wantErr)
		}
		if n != c.requests || res.Rejected != c.rejected || len(q.uploaded) != 0 {
			t.Errorf("cut %d: %d requests, %d rejected, uploaded %v; want %d requests, %d rejected, nothing uploaded",
				c.status, n, res.Rejected, q.uploaded, c.requests, c.rejected)
		}
	}
}

// TestWorstAnswerOfARound: over two routes, a 5xx on one beats a dead other
// (the collector was reached and is failing: the queue backs off), and a refusal
// is reported with its own status.
func TestWorstAnswerOfARound(t *testing.T) {
	for _, order := range [][2]string{{"dead", "500"}, {"500", "dead"}} {
		var waits []time.Duration
		cl := scriptClient(nil, &waits)
		cl.Collector = ""
		cl.Routes = []upload.Route{{URL: "http://" + order[0] + ".invalid/"}, {URL: "http://" + order[1] + ".invalid/"}}
		cl.MaxAttempts = 1
		cl.HTTP = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if strings.HasPrefix(r.URL.Host, "dead") {
				return nil, errors.New("connection refused")
			}
			return &http.Response{StatusCode: 500, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
		})}
		q := newRecQueue("m1")
		res, err := cl.Drain(context.Background(), q)
		if !errors.Is(err, upload.ErrUnavailable) || res.Deferred != 1 || len(q.failed) != 1 || q.failed[0].permanent {
			t.Errorf("routes %v: err %v, deferred %d, marks %v; want the 500 to count an attempt", order, err, res.Deferred, q.failed)
		}
	}
	sc := &scripted{answer: status(404, "")}
	var waits []time.Duration
	_, err := scriptClient(sc, &waits).Drain(context.Background(), newRecQueue("m1"))
	if !errors.Is(err, upload.ErrProtocol) || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: err %v, want ErrProtocol naming HTTP 404", err)
	}
}
