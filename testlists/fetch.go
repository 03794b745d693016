package testlists

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// FetchTimeout bounds a list refresh: the list is a convenience (the embedded one is
// the fallback), so a slow collector must not hold up a run.
const FetchTimeout = 10 * time.Second

// maxListBytes bounds a fetched list. The largest Citizen Lab list (global.csv) is
// about 170 kB; 8 MB leaves room for growth and stops a runaway response.
const maxListBytes = 8 << 20

// Fetch downloads a country's list from a collector (GET {collector}/api/v1/
// testlists/{cc}, a Citizen Lab CSV) and parses it. Callers fall back to the
// embedded list on any error.
func Fetch(ctx context.Context, client *http.Client, collector, cc string) ([]Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	u := strings.TrimRight(collector, "/") + "/api/v1/testlists/" + url.PathEscape(strings.ToLower(cc))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("testlists: fetch: %w", err)
	}
	req.Header.Set("Accept", "text/csv")
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("testlists: fetch %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("testlists: fetch %s: status %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxListBytes+1))
	if err != nil {
		return nil, fmt.Errorf("testlists: fetch %s: %w", u, err)
	}
	if len(body) > maxListBytes {
		return nil, fmt.Errorf("testlists: fetch %s: list larger than %d bytes", u, maxListBytes)
	}
	return ParseCSV(strings.NewReader(string(body)), u)
}
