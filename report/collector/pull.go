package collector

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/atomicfile"
	"github.com/vantage-probe/vantage/report/translog"
)

// PullResult says what Pull wrote.
type PullResult struct {
	Lines  int // signed measurements written, every one verified
	Probes int // distinct probe ids among them
	// Log is the checkpoint every line was proved included in (PullOptions.LogState
	// set), and LogFirstUse says its key was pinned by this pull.
	Log         *translog.Checkpoint
	LogFirstUse bool
}

// Pull downloads the export of collectorURL for the given filters (the export's
// query parameters: probe_cc, since, ...), verifies every line with report.Verify,
// and writes the lines to path atomically: the file appears whole, or not at all.
// It fails when any line does not verify or the collector did not end the export
// with a "complete" status trailer.
func Pull(ctx context.Context, client *http.Client, collectorURL string, filters url.Values, path string) (PullResult, error) {
	return PullWith(ctx, client, collectorURL, filters, path, PullOptions{})
}

// PullWith is Pull with options: with LogState, it also checks the collector's
// transparency log (pull_log.go).
func PullWith(ctx context.Context, client *http.Client, collectorURL string, filters url.Values, path string, opts PullOptions) (PullResult, error) {
	if client == nil {
		client = http.DefaultClient
	}
	lc, err := startLogCheck(ctx, client, collectorURL, opts)
	if err != nil {
		return PullResult{}, fmt.Errorf("pull: %w", err)
	}
	u := strings.TrimRight(collectorURL, "/") + "/api/v1/export"
	if len(filters) > 0 {
		u += "?" + filters.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return PullResult{}, fmt.Errorf("pull: %w", err)
	}
	// The transport asks for gzip itself and decompresses transparently.
	resp, err := client.Do(req)
	if err != nil {
		return PullResult{}, fmt.Errorf("pull: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return PullResult{}, fmt.Errorf("pull: %s: %s: %s", u, resp.Status, errorMessage(resp.Body))
	}
	var res PullResult
	err = atomicfile.Write(path, 0o600, func(w io.Writer) error {
		var err error
		if res, err = copyVerified(resp.Body, w, lc.add, opts.convert()); err != nil {
			return err
		}
		if err := checkTrailer(resp.Trailer.Get(ExportTrailer), res.Lines); err != nil {
			return err
		}
		return lc.finish(ctx, len(filters) == 0)
	})
	if err == nil {
		err = lc.commit(path, &res)
	}
	if err != nil {
		return PullResult{}, fmt.Errorf("pull: %w", err)
	}
	return res, nil
}

// copyVerified copies signed lines from r to w, verifying each.
// onLine, when not nil, is given each verified line; conv, when not nil, rewrites
// it before it is written.
func copyVerified(r io.Reader, w io.Writer, onLine func(uid string, line []byte), conv func([]byte) ([]byte, error)) (PullResult, error) {
	var res PullResult
	probes := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLineBytes+1)
	bw := bufio.NewWriter(w)
	for no := 1; sc.Scan(); no++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		s, err := report.Verify(line)
		if err != nil {
			return res, fmt.Errorf("line %d does not verify: %w", no, err)
		}
		probes[s.ProbeID] = true
		if onLine != nil {
			onLine(s.MeasurementUID, line)
		}
		res.Lines++
		if conv != nil {
			if line, err = conv(line); err != nil {
				return res, fmt.Errorf("line %d: %w", no, err)
			}
		}
		bw.Write(line)
		if err := bw.WriteByte('\n'); err != nil {
			return res, err
		}
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("reading export: %w", err)
	}
	res.Probes = len(probes)
	return res, bw.Flush()
}

func checkTrailer(status string, lines int) error {
	want := fmt.Sprintf("complete; count=%d", lines)
	if status != want {
		if status == "" {
			status = "missing"
		}
		return fmt.Errorf("export incomplete: collector status %q after %d lines", status, lines)
	}
	return nil
}

// errorMessage extracts the "error" of an API error body, or its first bytes.
func errorMessage(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 4<<10))
	var e apiError
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(b))
}
