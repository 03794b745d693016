package collector_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/collector/storage"
)

func TestBannedKeysAreRefusedAndTheListReloads(t *testing.T) {
	a, b := collectortest.NewProbe(t), collectortest.NewProbe(t)
	path := filepath.Join(t.TempDir(), "banned.txt")
	if err := os.WriteFile(path, []byte("# garbage senders\n"+strings.ToUpper(a.ID)+"  # since 2026-12\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bans, err := collector.LoadBanList(path)
	if err != nil {
		t.Fatal(err)
	}
	c := collectortest.NewWithConfig(t, collectortest.SQLite, collector.Config{Banned: bans})
	upload := func(p *collectortest.Probe, input string) (int, ingestAnswer) {
		return post(t, c, collector.ContentTypeJSON, p.SignSpec(t, webSpec(input, t0)))
	}
	if st, ans := upload(a, "https://a.example/"); st != 403 || !strings.Contains(ans.Error, "banned") {
		t.Errorf("banned key: %d %q, want 403 naming the ban", st, ans.Error)
	}
	if st, _ := upload(b, "https://b.example/"); st != 200 {
		t.Errorf("other key: %d", st)
	}
	os.WriteFile(path, []byte(b.ID+"\n"), 0o600)
	if err := bans.Reload(); err != nil {
		t.Fatal(err)
	}
	if st, _ := upload(b, "https://b.example/2"); st != 403 {
		t.Errorf("key banned by the reload: %d, want 403", st)
	}
	if st, _ := upload(a, "https://a.example/2"); st != 200 {
		t.Errorf("key no longer banned: %d, want 200", st)
	}
	// A list that does not read keeps the previous one.
	os.WriteFile(path, []byte("two ids on a line\n"), 0o600)
	if err := bans.Reload(); err == nil || !strings.Contains(err.Error(), path+":1") {
		t.Errorf("bad list: %v, want an error naming %s:1", err, path)
	}
	if !bans.Banned(b.ID) || bans.Len() != 1 {
		t.Errorf("after a failed reload the previous list is not in force")
	}
	if got := value(scrape(t, c.URL), "vantage_collector_ingest_refused_total", "reason", "banned"); got != 2 {
		t.Errorf("banned refusals counted %v, want 2", got)
	}
}

func TestDeleteProbeRemovesItsMeasurementsOnly(t *testing.T) {
	for _, backend := range collectortest.Backends {
		t.Run(backend, func(t *testing.T) {
			c := collectortest.New(t, backend)
			a, b := collectortest.NewProbe(t), collectortest.NewProbe(t)
			for i, p := range []*collectortest.Probe{a, a, b} {
				if st, _ := post(t, c, collector.ContentTypeJSON, p.SignSpec(t, webSpec("https://x.example/"+string(rune('a'+i)), t0))); st != 200 {
					t.Fatalf("upload %d: %d", i, st)
				}
			}
			ctx := context.Background()
			n, err := c.DB.DeleteProbe(ctx, a.ID)
			if err != nil || n != 2 {
				t.Fatalf("DeleteProbe: %d %v, want 2", n, err)
			}
			var left []string
			if err := c.DB.Export(ctx, storage.Filter{}, func(line []byte) error { left = append(left, string(line)); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(left) != 1 || !strings.Contains(left[0], b.ID) {
				t.Errorf("left after the deletion: %d lines, want b's one", len(left))
			}
			if k, err := c.DB.ProbeKey(ctx, a.ID); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("a's key after the deletion: %+v %v, want none", k, err)
			}
			if n, err := c.DB.DeleteProbe(ctx, a.ID); err != nil || n != 0 {
				t.Errorf("second deletion: %d %v, want 0", n, err)
			}
		})
	}
}
