package collector_test

import (
	"bufio"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/collector/storage"
)

func TestBackupDuringIngestRestoresToAVerifiedExport(t *testing.T) {
	c := collectortest.New(t, collectortest.SQLite)
	p := collectortest.NewProbe(t)
	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var batch []byte
			for j := range 5 {
				batch = append(batch, p.SignSpec(t, webSpec("https://example.org/"+strconv.Itoa(i)+"/"+strconv.Itoa(j), t0.Add(time.Duration(i)*time.Second)))...)
				batch = append(batch, '\n')
			}
			if st, a := post(t, c, collector.ContentTypeNDJSON, batch); st == 200 {
				acked.Add(int64(a.Stored))
			}
		}
	})
	for acked.Load() < 50 { // ingest is under way
		time.Sleep(time.Millisecond)
	}
	dest := filepath.Join(t.TempDir(), "backup.db")
	beforeBackup := acked.Load()
	if err := c.DB.Backup(context.Background(), dest); err != nil {
		t.Fatal(err)
	}
	atBackup := acked.Load()
	for acked.Load() < atBackup+50 { // and goes on after it
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if err := c.DB.Backup(context.Background(), dest); err == nil {
		t.Errorf("a second backup over the first was written")
	}

	restored, err := storage.Open(context.Background(), dest)
	if err != nil {
		t.Fatalf("open the backup: %v", err)
	}
	defer restored.Close()
	if err := restored.Ready(context.Background()); err != nil {
		t.Fatalf("restored store not ready: %v", err)
	}
	hs := httptest.NewServer(collector.NewServer(collector.Config{Store: restored}).Handler())
	defer hs.Close()
	out := filepath.Join(t.TempDir(), "pulled.jsonl")
	res, err := collector.Pull(context.Background(), nil, hs.URL, nil, out)
	if err != nil {
		t.Fatalf("pull from the restored collector: %v", err)
	}
	// The backup holds every batch acknowledged before it began, whole batches
	// only, nothing acknowledged after the next one once it ended, and every
	// line verifies (Pull checks).
	if res.Lines < int(beforeBackup) || res.Lines > int(atBackup)+5 || res.Lines%5 != 0 {
		t.Errorf("restored %d lines; %d acknowledged before the backup, %d once it ended", res.Lines, beforeBackup, atBackup)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
	}
	if n != res.Lines {
		t.Errorf("pulled file has %d lines, Pull says %d", n, res.Lines)
	}
}
