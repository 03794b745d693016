package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/registry"
	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/testlists"
)

// maxTargetsBytes caps a fetched target list: the embedded ones are a few KiB.
const maxTargetsBytes = 1 << 20

// fetchTargets asks the collector for a nettest's target list
// (GET /api/v1/targets/{nettest}); the caller parses it.
func fetchTargets(ctx context.Context, collectorURL, name string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, testlists.FetchTimeout)
	defer cancel()
	u := strings.TrimRight(collectorURL, "/") + "/api/v1/targets/" + url.PathEscape(name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("targets: fetch: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("targets: fetch %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("targets: fetch %s: status %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTargetsBytes+1))
	if err != nil {
		return nil, fmt.Errorf("targets: fetch %s: %w", u, err)
	}
	if len(body) > maxTargetsBytes {
		return nil, fmt.Errorf("targets: fetch %s: list larger than %d bytes", u, maxTargetsBytes)
	}
	return body, nil
}

// targetsRefresh builds the nettest of d again on the collector's target list;
// nil when it measures no target list or the volunteer's [targets] file names
// one (the file wins).
func targetsRefresh(d registry.Descriptor, cfg *config.Config, env *nettests.Env, collectorURL string) func(context.Context) (nettests.Measurer, error) {
	if d.WithTargets == nil || registry.TargetsFile(cfg, d.Name) != "" {
		return nil
	}
	return func(ctx context.Context) (nettests.Measurer, error) {
		raw, err := fetchTargets(ctx, collectorURL, d.Name)
		if err != nil {
			return nil, err
		}
		return d.WithTargets(cfg, env, raw)
	}
}

// collectorTargets serves the embedded target lists of the nettests, which
// package collector cannot import.
func collectorTargets(name string) ([]byte, error) {
	b, ok := registry.EmbeddedTargets(name)
	if !ok {
		return nil, collector.ErrNoTargets
	}
	return b, nil
}
