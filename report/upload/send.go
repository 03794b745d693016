package upload

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"time"
)

// answer is one HTTP exchange's outcome: a status and body, or a transport error.
type answer struct {
	status     int
	body       []byte
	acks       map[string]string // a 200's acknowledgements by uid
	retryAfter time.Duration     // 0 when absent or unparseable
	err        error             // transport error: no status
	operation  string            // where err happened (resolve, connect, tls_handshake, http_round_trip)
	start      time.Time
	elapsed    time.Duration
	route      int // index of the route that gave it
}

// acknowledges: a 200 from the collector acknowledging every uid of the batch. A
// 200 that does not is not the collector speaking (a captive portal or a block
// page also answers 200).
func (a answer) acknowledges(batch []Pending) bool {
	if a.status != http.StatusOK || a.acks == nil {
		return false
	}
	for _, p := range batch {
		if _, ok := a.acks[p.UID]; !ok {
			return false
		}
	}
	return true
}

func (a answer) String() string {
	if a.err != nil {
		return a.err.Error()
	}
	if a.status == http.StatusOK {
		return "HTTP 200 without the collector's acknowledgement (captive portal or block page?)"
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(a.body, &e) == nil && e.Error != "" {
		return fmt.Sprintf("HTTP %d: %s", a.status, e.Error)
	}
	return fmt.Sprintf("HTTP %d", a.status)
}

// retryable: the request may succeed if repeated unchanged.
func (a answer) retryable() bool {
	return a.err != nil || a.status == http.StatusTooManyRequests || a.status >= 500
}

// lineFault: a 4xx the collector attributes to the content of the request.
func (a answer) lineFault() bool {
	switch a.status {
	case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// sendBatch sends one batch and records the outcome in the queue and the result.
func (d *drain) sendBatch(ctx context.Context, batch []Pending) error {
	a, err := d.post(ctx, batch)
	if err != nil {
		return err
	}
	q, res := d.q, d.res
	switch {
	case a.acknowledges(batch):
		return d.acknowledge(ctx, batch, a)
	case a.lineFault() && len(batch) > 1:
		// Some line is bad and the collector stored nothing: send them one by one so
		// that only the bad one is held back.
		d.c.logf("upload: batch of %d refused (%s); sending one by one", len(batch), a)
		for _, p := range batch {
			if err := d.sendBatch(ctx, []Pending{p}); err != nil {
				return err
			}
		}
		return nil
	case a.lineFault():
		d.c.logf("upload: %s rejected: %s", batch[0].UID, a)
		if err := q.MarkUploadFailed(ctx, batch[0].UID, true, a.String()); err != nil {
			return fmt.Errorf("upload: %w", err)
		}
		res.Rejected++
		res.Rejections = append(res.Rejections, Rejection{UID: batch[0].UID, Reason: a.String()})
		return nil
	case a.status >= 500:
		// The collector is up but failing: count an attempt on each so the queue
		// backs off, and stop this drain.
		for _, p := range batch {
			if err := q.MarkUploadFailed(ctx, p.UID, false, a.String()); err != nil {
				return fmt.Errorf("upload: %w", err)
			}
			res.Deferred++
		}
		return fmt.Errorf("upload: %w: %s", ErrUnavailable, a)
	case a.retryable(), a.status == http.StatusOK:
		// Unreachable, rate limited, or a 200 that is not the collector speaking (a
		// captive portal or a block page): nothing is recorded; the measurements wait.
		return fmt.Errorf("upload: %w: %s", ErrUnavailable, a)
	default:
		return fmt.Errorf("upload: %w: %s", ErrProtocol, a)
	}
}

// acknowledge marks an acknowledged batch uploaded.
func (d *drain) acknowledge(ctx context.Context, batch []Pending, a answer) error {
	uids := make([]string, len(batch))
	stored, dup := 0, 0
	for i, p := range batch {
		uids[i] = p.UID
		if a.acks[p.UID] == "stored" {
			stored++
		} else {
			dup++
		}
	}
	if err := d.q.MarkUploaded(ctx, uids...); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	d.res.noteLogged(batch, a)
	d.res.Uploaded += stored
	d.res.Duplicates += dup
	return nil
}

// post sends the batch over the routes in order, the one that answered last
// first. A route that fails (network error, 429, 5xx, an answer that is not the
// collector's) hands the batch to the next; a route that answers — with an
// acknowledgement or by refusing a line — ends the search, so a refused
// measurement is never retried elsewhere. When every route failed and one of
// them may succeed if asked again, the whole round is repeated after a backoff
// (or the collector's Retry-After), up to MaxAttempts rounds. It returns the
// most telling answer of the last round; the error is only ctx's.
func (d *drain) post(ctx context.Context, batch []Pending) (answer, error) {
	b, err := encodeBody(batch)
	if err != nil {
		return answer{}, err
	}
	for round := 1; ; round++ {
		var worst answer
		retry, retryAfter := false, time.Duration(0)
		for _, i := range d.order() {
			a := d.c.do(ctx, d.c.routes()[i], i, b, len(batch) == 1)
			a.route = i
			d.res.BytesRaw += int64(b.raw)
			d.res.BytesSent += int64(len(b.gz))
			if a.acknowledges(batch) || a.lineFault() {
				d.answered(ctx, i)
				return a, nil // an answer, even if ctx ended meanwhile: an acknowledgement counts
			}
			d.failed(ctx, i, a)
			if rank(a) > rank(worst) {
				worst = a
			}
			retry = retry || a.retryable()
			retryAfter = max(retryAfter, a.retryAfter)
			if err := ctx.Err(); err != nil {
				return worst, err
			}
		}
		if !retry || round >= d.c.maxAttempts() {
			return worst, nil
		}
		wait := d.c.backoff(round)
		if retryAfter > 0 {
			if retryAfter > d.c.maxRetryAfter() {
				d.c.logf("upload: collector asks to wait %v; leaving the queue for a later drain", retryAfter)
				return worst, nil
			}
			wait = retryAfter
		}
		d.c.logf("upload: attempt %d of %d failed (%s); retrying in %v", round, d.c.maxAttempts(), worst, wait.Round(time.Millisecond))
		if err := d.c.sleep(ctx, wait); err != nil {
			return worst, err
		}
	}
}

// rank orders the failed answers of a round by what they say about the
// collector: a 5xx (reached, but failing: the queue backs off) over a path
// failure (wait and retry) over any other refusal.
func rank(a answer) int {
	switch {
	case a.status >= 500:
		return 3
	case a.retryable() || a.status == http.StatusOK:
		return 2
	case a.status != 0:
		return 1
	}
	return 0
}

// body is one batch's request body, encoded once for every try.
type body struct {
	gz  []byte // gzip of the lines
	raw int    // bytes before compression
}

// encodeBody writes each line followed by "\n" and compresses the whole: signed
// JSON lines shrink several times (docs/benchmarks.md), and the collector
// accepts Content-Encoding: gzip.
func encodeBody(batch []Pending) (body, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	raw := 0
	for _, p := range batch {
		zw.Write(p.Line)
		zw.Write([]byte{'\n'})
		raw += len(p.Line) + 1
	}
	if err := zw.Close(); err != nil {
		return body{}, fmt.Errorf("upload: compress: %w", err)
	}
	return body{gz: buf.Bytes(), raw: raw}, nil
}

// do performs one request over one route: one line as application/json,
// several as application/x-ndjson, gzip-compressed.
func (c *Client) do(ctx context.Context, r Route, i int, b body, one bool) answer {
	start := time.Now()
	target, host, err := r.requestURL(Path)
	if err != nil {
		return answer{err: err, operation: "http_round_trip", start: start}
	}
	hc, err := c.httpClient(i)
	if err != nil {
		return answer{err: err, operation: "connect", start: start}
	}
	tr := &phases{}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, tr.trace()), http.MethodPost, target, bytes.NewReader(b.gz))
	if err != nil {
		return answer{err: fmt.Errorf("upload: request: %w", err), operation: "http_round_trip", start: start}
	}
	req.Host = host
	ctype := "application/x-ndjson"
	if one {
		ctype = "application/json"
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := hc.Do(req)
	if err != nil {
		return answer{err: err, operation: tr.operation(), start: start, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil && resp.StatusCode == http.StatusOK {
		// The acknowledgement was cut: as if it never came.
		return answer{err: fmt.Errorf("read answer: %w", err), operation: "http_round_trip", start: start, elapsed: time.Since(start)}
	}
	a := answer{status: resp.StatusCode, body: data, start: start, elapsed: time.Since(start),
		retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	if a.status == http.StatusOK {
		a.acks = parseAcks(data)
	}
	return a
}

// parseAcks reads the collector's 200 answer: uid → "stored" or "duplicate".
// Anything else (a captive portal's page) gives nil.
func parseAcks(data []byte) map[string]string {
	var body struct {
		Results []struct {
			UID    string `json:"measurement_uid"`
			Status string `json:"status"`
		} `json:"results"`
	}
	if json.Unmarshal(data, &body) != nil {
		return nil
	}
	acks := make(map[string]string, len(body.Results))
	for _, r := range body.Results {
		if r.Status == "stored" || r.Status == "duplicate" {
			acks[r.UID] = r.Status
		}
	}
	return acks
}

// parseRetryAfter reads delay-seconds or an HTTP date (RFC 9110, section 10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
