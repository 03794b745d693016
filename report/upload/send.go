package upload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// answer is one HTTP exchange's outcome: a status and body, or a transport error.
type answer struct {
	status     int
	body       []byte
	retryAfter time.Duration // 0 when absent or unparseable
	err        error         // transport error: no status
}

func (a answer) String() string {
	if a.err != nil {
		return a.err.Error()
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

// sendBatch sends one batch and records the outcome in q and res.
func (c *Client) sendBatch(ctx context.Context, q Queue, batch []Pending, res *Result) error {
	a, err := c.post(ctx, batch)
	if err != nil {
		return err
	}
	switch {
	case a.status == http.StatusOK:
		return c.acknowledge(ctx, q, batch, a, res)
	case a.lineFault() && len(batch) > 1:
		// Some line is bad and the collector stored nothing: send them one by one so
		// that only the bad one is held back.
		c.logf("upload: batch of %d refused (%s); sending one by one", len(batch), a)
		for _, p := range batch {
			if err := c.sendBatch(ctx, q, []Pending{p}, res); err != nil {
				return err
			}
		}
		return nil
	case a.lineFault():
		c.logf("upload: %s rejected: %s", batch[0].UID, a)
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
	case a.retryable():
		// Unreachable or rate limited: nothing is recorded; the measurements wait.
		return fmt.Errorf("upload: %w: %s", ErrUnavailable, a)
	default:
		return fmt.Errorf("upload: %w: %s", ErrProtocol, a)
	}
}

// acknowledge checks a 200 answer and marks the batch uploaded. An answer that
// does not acknowledge every uid of the batch is not the collector speaking (a
// captive portal or a block page also answers 200): nothing is marked.
func (c *Client) acknowledge(ctx context.Context, q Queue, batch []Pending, a answer, res *Result) error {
	var body struct {
		Results []struct {
			UID    string `json:"measurement_uid"`
			Status string `json:"status"`
		} `json:"results"`
	}
	if err := json.Unmarshal(a.body, &body); err != nil {
		return fmt.Errorf("upload: %w: HTTP 200 without the collector's JSON answer (captive portal?)", ErrUnavailable)
	}
	status := make(map[string]string, len(body.Results))
	for _, r := range body.Results {
		status[r.UID] = r.Status
	}
	uids := make([]string, len(batch))
	stored, dup := 0, 0
	for i, p := range batch {
		uids[i] = p.UID
		switch status[p.UID] {
		case "stored":
			stored++
		case "duplicate":
			dup++
		default:
			return fmt.Errorf("upload: %w: HTTP 200 does not acknowledge %s", ErrUnavailable, p.UID)
		}
	}
	if err := q.MarkUploaded(ctx, uids...); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	res.Uploaded += stored
	res.Duplicates += dup
	return nil
}

// post sends the batch, repeating it on network errors, 429 and 5xx with backoff
// (or the collector's Retry-After), up to MaxAttempts. It returns the last answer;
// the error is only ctx's.
func (c *Client) post(ctx context.Context, batch []Pending) (answer, error) {
	for attempt := 1; ; attempt++ {
		a := c.do(ctx, batch)
		if !a.retryable() {
			return a, nil // an answer, even if ctx ended meanwhile: an acknowledgement counts
		}
		if err := ctx.Err(); err != nil {
			return a, err
		}
		if attempt >= c.maxAttempts() {
			return a, nil
		}
		wait := c.backoff(attempt)
		if a.retryAfter > 0 {
			if a.retryAfter > c.maxRetryAfter() {
				c.logf("upload: collector asks to wait %v; leaving the queue for a later drain", a.retryAfter)
				return a, nil
			}
			wait = a.retryAfter
		}
		c.logf("upload: attempt %d of %d failed (%s); retrying in %v", attempt, c.maxAttempts(), a, wait.Round(time.Millisecond))
		if err := c.sleep(ctx, wait); err != nil {
			return a, err
		}
	}
}

// defaultHTTP is shared by clients without their own, so that successive batches
// reuse one connection (and one TLS handshake) to the collector.
var defaultHTTP = &http.Client{Timeout: DefaultRequestTimeout}

// do performs one request: one line as application/json, several as
// application/x-ndjson, each line followed by "\n".
func (c *Client) do(ctx context.Context, batch []Pending) answer {
	var body bytes.Buffer
	for _, p := range batch {
		body.Write(p.Line)
		body.WriteByte('\n')
	}
	ctype := "application/x-ndjson"
	if len(batch) == 1 {
		ctype = "application/json"
	}
	url := strings.TrimSuffix(c.Collector, "/") + Path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, &body)
	if err != nil {
		return answer{err: fmt.Errorf("upload: request: %w", err)}
	}
	req.Header.Set("Content-Type", ctype)
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil && resp.StatusCode == http.StatusOK {
		// The acknowledgement was cut: as if it never came.
		return answer{err: fmt.Errorf("read answer: %w", err)}
	}
	return answer{status: resp.StatusCode, body: b, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
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
