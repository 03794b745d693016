package collector_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
)

// TestProbesBehindOneAddressUploadAsIfApart: many volunteers share a
// carrier-grade NAT address. With uploads limited per address, 20 probes behind
// one got one probe's burst between them; limited per probe key, each gets its
// own. Each of 20 probes sends its whole burst (30 uploads) from one address, then
// from 20 addresses: every upload must be stored both times (the clock stands
// still, so no bucket refills), and the wall times are the figure.
func TestProbesBehindOneAddressUploadAsIfApart(t *testing.T) {
	const probes, burst = 20, 30
	clock := &fakeClock{now: t0.Add(time.Hour)}
	for _, setup := range []string{"one address", "20 addresses"} {
		c := collectortest.NewWithConfig(t, collectortest.SQLite, collector.Config{
			Now:       clock.Now,
			RateLimit: &collector.RateLimit{IngestRate: collector.DefaultIngestRate, IngestBurst: burst, ReadRate: 1, ReadBurst: 1},
		})
		lines := make([][][]byte, probes)
		for i := range probes {
			p := collectortest.NewProbe(t)
			for j := range burst {
				lines[i] = append(lines[i], p.SignSpec(t, webSpec(fmt.Sprintf("https://p%d-%d.example/", i, j), t0.Add(time.Duration(j)*time.Second))))
			}
		}
		var refused atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for i := range probes {
			src := "127.0.0.2"
			if setup != "one address" {
				src = fmt.Sprintf("127.0.0.%d", 2+i)
			}
			hc := clientFrom(src)
			wg.Go(func() {
				for _, l := range lines[i] {
					if status, _ := send(t, hc, http.MethodPost, c.URL+"/api/v1/measurements", l); status != http.StatusOK {
						refused.Add(1)
					}
				}
			})
		}
		wg.Wait()
		took := time.Since(start)
		if n := refused.Load(); n != 0 {
			t.Errorf("%s: %d of %d uploads refused", setup, n, probes*burst)
		}
		if n := len(stored(t, c)); n != probes*burst {
			t.Errorf("%s: store holds %d, want %d", setup, n, probes*burst)
		}
		t.Logf("%d probes behind %s: %d uploads in %v (%.0f/s)", probes, setup, probes*burst, took.Round(time.Millisecond),
			float64(probes*burst)/took.Seconds())
	}
}
