package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	collectorfake "github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/collector/storage"
)

func TestSplitBundlesTravelInAnyOrder(t *testing.T) {
	bin := storageBinary(t)
	col := collectorfake.New(t, collectorfake.SQLite)
	e := newStorageEnv(t, bin, col.URL)
	bodies := make([]string, 40)
	for i := range bodies {
		bodies[i] = strings.Repeat(fmt.Sprintf("<p>measurement %d</p>", i), 20+i*3)
	}
	lines := e.seed(t, bodies)
	dir := t.TempDir()
	full := filepath.Join(dir, "full.jsonl")
	if out, errOut, code := e.run(t, "export", "--since", "30d", "-o", full); code != 0 {
		t.Fatalf("export: %d %s %s", code, out, errOut)
	}
	const limit = 20_000
	out, errOut, code := e.run(t, "export", "--since", "30d", "-o", filepath.Join(dir, "bundle.jsonl"), "--split-size", "20k")
	if code != 0 {
		t.Fatalf("split export: %d %s %s", code, out, errOut)
	}
	parts := strings.Fields(out)
	if len(parts) < 3 || parts[0] != filepath.Join(dir, "bundle.001.jsonl") {
		t.Fatalf("parts %v: the 40 lines of about 1-3 KB should need several 20 kB parts", parts)
	}
	var joined []byte
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > limit {
			t.Errorf("%s holds %d bytes, over the %d limit", p, len(b), limit)
		}
		if !bytes.HasSuffix(b, []byte("\n")) {
			t.Errorf("%s does not end with a whole line", p)
		}
		joined = append(joined, b...)
		if _, _, code := e.run(t, "verify", p); code != 0 {
			t.Errorf("vantage verify %s: exit %d: each part must be a bundle of its own", p, code)
		}
	}
	whole, _ := os.ReadFile(full)
	if !bytes.Equal(joined, whole) {
		t.Errorf("the parts joined (%d bytes) are not the unsplit export (%d bytes)", len(joined), len(whole))
	}

	// Upload the parts backwards, the first one twice: everything arrives once.
	args := []string{"upload"}
	for i := len(parts) - 1; i >= 0; i-- {
		args = append(args, "--bundle", parts[i])
	}
	args = append(args, "--bundle", parts[0])
	out, errOut, code = e.run(t, args...)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("%d distinct measurements; uploaded %d, already at the collector 0, rejected 0, waiting 0", len(lines), len(lines))) {
		t.Fatalf("bundle upload: exit %d\n%s%s", code, out, errOut)
	}
	assertCollectorHolds(t, col.DB, lines)
	// Again, in another order: all duplicates, nothing stored twice.
	out, errOut, code = e.run(t, "upload", "--bundle", parts[1], "--bundle", parts[0], "--bundle", parts[len(parts)-1])
	if code != 0 || !strings.Contains(out, "uploaded 0, already at the collector") || !strings.Contains(out, "waiting 0") {
		t.Fatalf("second bundle upload: exit %d\n%s%s", code, out, errOut)
	}
	assertCollectorHolds(t, col.DB, lines)

	// A damaged part is refused before anything is sent, naming file and line.
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, append(append([]byte{}, whole[:200]...), '\n'), 0o600)
	if out, errOut, code := e.run(t, "upload", "--bundle", bad); code != 2 || !strings.Contains(errOut, bad+":1:") {
		t.Errorf("damaged bundle: exit %d, %s%s; want 2 naming %s:1", code, out, errOut, bad)
	}
}

func assertCollectorHolds(t *testing.T, db *storage.DB, want map[string][]byte) {
	t.Helper()
	n := 0
	err := db.Export(context.Background(), storage.Filter{}, func(line []byte) error {
		n++
		found := false
		for _, l := range want {
			found = found || bytes.Equal(bytes.TrimSuffix(line, []byte("\n")), l)
		}
		if !found {
			t.Errorf("the collector holds a line the probe did not send: %.120s", line)
		}
		return nil
	})
	if err != nil || n != len(want) {
		t.Errorf("collector holds %d lines (%v), want %d", n, err, len(want))
	}
}
