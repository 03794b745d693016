package webconnectivity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
)

// errNoHelpers is the control failure when no helper is configured.
var errNoHelpers = errors.New("no control helper configured ([control] helpers)")

// controlClient asks helpers, in order, until one answers.
type controlClient struct {
	helpers []string
	client  *http.Client
	budget  time.Duration
}

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
	ctx, cancel := context.WithTimeout(ctx, c.budget)
	defer cancel()
	var errs []error
	for _, h := range c.helpers {
		resp, err := c.queryOne(ctx, h, body)
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
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("http status %d", resp.StatusCode)
	}
	return thproto.ParseResponse(resp.Body, maxControlResponseBytes)
}
