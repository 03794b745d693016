package webconnectivity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
	"github.com/vantage-probe/vantage/probe/netx"
)

const (
	// defaultControlBudget bounds the whole control exchange, all helpers included:
	// OONI's TH call timeout (ooni-design.md §2.2).
	defaultControlBudget = 30 * time.Second
	// perHelperBudget bounds one helper before the next is tried: the helper answers
	// within its own 20 s (thserver.DefaultRequestTimeout), plus transfer time. (OONI
	// overlaps the next helper after 15 s, ooni-design.md §3; vantage asks in turn.)
	perHelperBudget = 25 * time.Second
	// maxControlResponseBytes bounds a helper's answer: a page's headers and a few
	// dozen endpoints fit in far less.
	maxControlResponseBytes = 1 << 20
	// DefaultMaxControlInFlight bounds the control requests one probe has in flight,
	// whatever the URL parallelism: the helper's own limit (32,
	// thserver.DefaultMaxInFlight), so a probe alone never makes a default helper
	// shed load; a helper shared with other probes queues briefly, then answers 503,
	// which the probe retries. Not lower: a helper answers a site that is down for
	// it too only after its fetch timeout (12 s), so the control's throughput is
	// slots / 12 s in the worst case (16 slots made 100 such URLs take 85 s at
	// parallelism 25; docs/methodology.md). URLs waiting for a slot keep measuring
	// meanwhile: the control runs beside the probe's own steps.
	DefaultMaxControlInFlight = 32
	// maxBusyRetries: a helper that answers 503 (load shedding) is asked again this
	// many times, after its Retry-After (capped by maxBusyWait), before the next
	// helper: a busy helper is not a failed one.
	maxBusyRetries = 3
	// maxBusyWait caps the wait a 503's Retry-After may impose, so one busy helper
	// cannot eat the whole control budget.
	maxBusyWait = 2 * time.Second
)

// errNoHelpers is the control failure when no helper is configured.
var errNoHelpers = errors.New("no control helper configured ([control] helpers)")

// controlClient asks helpers, in order, until one answers, with at most cap(slots)
// requests in flight.
type controlClient struct {
	helpers []string
	client  *http.Client
	budget  time.Duration
	slots   chan struct{}
}

// errHelperBusy is a helper's 503: it sheds load and says when to come back.
type errHelperBusy struct{ retryAfter time.Duration }

func (e *errHelperBusy) Error() string { return "http status 503 (helper busy)" }

// query sends req to each helper in turn within the budget and returns the first
// answer and the helper that gave it. The error names every helper's failure, with
// addresses scrubbed.
func (c *controlClient) query(ctx context.Context, req *thproto.Request) (*thproto.Response, string, error) {
	if len(c.helpers) == 0 {
		return nil, "", errNoHelpers
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, "", fmt.Errorf("control: encode request: %w", err)
	}
	// The wait for a slot is bounded by the URL's own budget, not the control's:
	// a queue of slow helper answers (sites down for the helper too take its whole
	// fetch timeout) must delay URLs, not make them inconclusive.
	if c.slots != nil {
		select {
		case c.slots <- struct{}{}:
			defer func() { <-c.slots }()
		case <-ctx.Done():
			return nil, "", fmt.Errorf("control: waiting for a request slot: %w", ctx.Err())
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.budget)
	defer cancel()
	var errs []error
	for _, h := range c.helpers {
		resp, err := c.queryPatiently(ctx, h, body)
		if err == nil {
			return resp, h, nil
		}
		errs = append(errs, fmt.Errorf("%s: %s", netx.Scrub(h), netx.Classify(err)))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, "", fmt.Errorf("control: no helper answered: %w", errors.Join(errs...))
}

// queryPatiently asks one helper, asking again while it answers 503.
func (c *controlClient) queryPatiently(ctx context.Context, helper string, body []byte) (*thproto.Response, error) {
	for try := 0; ; try++ {
		resp, err := c.queryOne(ctx, helper, body)
		var busy *errHelperBusy
		if !errors.As(err, &busy) || try == maxBusyRetries {
			return resp, err
		}
		t := time.NewTimer(min(busy.retryAfter, maxBusyWait))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

func (c *controlClient) queryOne(ctx context.Context, helper string, body []byte) (*thproto.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, perHelperBudget)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, helper, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable {
		return nil, &errHelperBusy{retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("http status %d", resp.StatusCode)
	}
	return thproto.ParseResponse(resp.Body, maxControlResponseBytes)
}

// retryAfter reads a Retry-After in seconds (RFC 9110 §10.2.3; the HTTP-date form is
// not used by helpers); anything else means one second.
func retryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	return time.Second
}
