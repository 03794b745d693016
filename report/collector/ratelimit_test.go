package collector_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/collector/storage"
)

// fakeClock is a clock the test moves by hand, so that bucket refills do not
// depend on how fast the machine is.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// clientFrom returns an HTTP client whose connections leave from the loopback
// address src (all of 127.0.0.0/8 is loopback on Linux).
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
}

// send makes one request and returns the status and Retry-After.
func send(t *testing.T, hc *http.Client, method, url string, body []byte, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", collector.ContentTypeJSON)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func uidOf(t *testing.T, line []byte) string {
	t.Helper()
	sig, err := report.Verify(line)
	if err != nil {
		t.Fatal(err)
	}
	return sig.MeasurementUID
}

func TestPerClientRateLimit(t *testing.T) {
	clock := &fakeClock{now: t0.Add(time.Hour)}
	c := collectortest.NewWithConfig(t, collectortest.SQLite, collector.Config{
		Now: clock.Now,
		RateLimit: &collector.RateLimit{IngestRate: 0.5, IngestBurst: 3,
			ReadRate: 1, ReadBurst: 2},
	})
	p := collectortest.NewProbe(t)
	line := func(i int) []byte {
		return p.SignSpec(t, webSpec("https://flood.example/", t0.Add(time.Duration(i)*time.Second)))
	}
	flooder, other := clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
	ingest := c.URL + "/api/v1/measurements"

	// The flooder's burst of 3 is stored, the rest refused with Retry-After = 1/rate.
	var acked []string
	for i := range 10 {
		l := line(i)
		status, retry := send(t, flooder, http.MethodPost, ingest, l)
		switch {
		case i < 3 && status == http.StatusOK:
			acked = append(acked, uidOf(t, l))
		case i >= 3 && status == http.StatusTooManyRequests && retry == "2":
		default:
			t.Errorf("flooder upload %d: status %d, Retry-After %q", i, status, retry)
		}
	}
	got := stored(t, c)
	slices.Sort(got)
	slices.Sort(acked)
	if !slices.Equal(got, acked) {
		t.Errorf("store holds %v, acknowledged %v", got, acked)
	}

	// Uploads are limited per probe key: another probe behind the flooder's very
	// address (a carrier-grade NAT) is still served, and so is one elsewhere. The
	// flooder's reads have their own bucket, per address.
	neighbour := collectortest.NewProbe(t)
	if status, _ := send(t, flooder, http.MethodPost, ingest, neighbour.SignSpec(t, webSpec("https://n.example/", t0))); status != http.StatusOK {
		t.Errorf("upload of another probe behind the flooder's address: %d", status)
	}
	if status, _ := send(t, other, http.MethodPost, ingest, line(100)); status != http.StatusTooManyRequests {
		t.Errorf("the flooding key from another address: %d, want 429 (the key is limited, wherever it comes from)", status)
	}
	for i := range 3 {
		status, retry := send(t, flooder, http.MethodGet, c.URL+"/api/v1/measurements", nil)
		if want := map[bool]int{true: 200, false: 429}[i < 2]; status != want || (status == 429 && retry != "1") {
			t.Errorf("flooder read %d: status %d, Retry-After %q; want %d", i, status, retry, want)
		}
	}
	if status, _ := send(t, other, http.MethodGet, c.URL+"/api/v1/measurements", nil); status != http.StatusOK {
		t.Errorf("other client's read: %d", status)
	}

	// The bucket refills at the rate: one token after 2 s, not before.
	clock.advance(1900 * time.Millisecond)
	if status, _ := send(t, flooder, http.MethodPost, ingest, line(20)); status != http.StatusTooManyRequests {
		t.Errorf("after 1.9 s: %d, want 429", status)
	}
	clock.advance(2 * time.Second)
	if status, _ := send(t, flooder, http.MethodPost, ingest, line(21)); status != http.StatusOK {
		t.Errorf("after the refill: %d, want 200", status)
	}
	if status, _ := send(t, flooder, http.MethodPost, ingest, line(22)); status != http.StatusTooManyRequests {
		t.Errorf("second upload after a one-token refill: %d, want 429", status)
	}
	if n := len(stored(t, c)); n != len(acked)+2 {
		t.Errorf("store holds %d, want %d (the burst, the neighbour's, the refill's)", n, len(acked)+2)
	}
}

func TestForwardedForIsTrustedOnlyWhenAsked(t *testing.T) {
	for _, trust := range []bool{false, true} {
		clock := &fakeClock{now: t0}
		c := collectortest.NewWithConfig(t, collectortest.SQLite, collector.Config{
			Now:       clock.Now,
			RateLimit: &collector.RateLimit{ReadRate: 1, ReadBurst: 1, TrustForwardedFor: trust},
		})
		hc := clientFrom("127.0.0.1")
		u := c.URL + "/api/v1/measurements"
		// Two clients behind one proxy, and a forged entry before the proxy's.
		s1, _ := send(t, hc, http.MethodGet, u, nil, "X-Forwarded-For", "198.51.100.7")
		s2, _ := send(t, hc, http.MethodGet, u, nil, "X-Forwarded-For", "203.0.113.9, 198.51.100.8")
		s3, _ := send(t, hc, http.MethodGet, u, nil, "X-Forwarded-For", "198.51.100.8, 198.51.100.7")
		want := []int{200, 429, 429}
		if trust {
			want = []int{200, 200, 429}
		}
		if got := []int{s1, s2, s3}; !slices.Equal(got, want) {
			t.Errorf("trust %v: statuses %v, want %v", trust, got, want)
		}
	}
}

// BenchmarkRateLimitedFlood measures how fast the collector refuses a flooding
// client whose bucket is empty (the 429 path, over loopback HTTP with keep-alive),
// for the figures in docs/security.md.
func BenchmarkRateLimitedFlood(b *testing.B) {
	clock := &fakeClock{now: t0.Add(time.Hour)}
	c := collectortest.NewWithConfig(b, collectortest.SQLite, collector.Config{
		Now:       clock.Now,
		RateLimit: &collector.RateLimit{IngestRate: 1, IngestBurst: 1},
	})
	line := collectortest.NewProbe(b).SignSpec(b, webSpec("https://flood.example/", t0))
	hc := clientFrom("127.0.0.2")
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, c.URL+"/api/v1/measurements", bytes.NewReader(line))
		req.Header.Set("Content-Type", collector.ContentTypeJSON)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	rows, err := c.DB.List(context.Background(), storage.Filter{}, nil, storage.OldestFirst, 10)
	if err != nil || len(rows) != 1 {
		b.Errorf("store holds %d (%v), want the 1 of the burst", len(rows), err)
	}
}

func TestFailedUploadsAreLimitedPerAddress(t *testing.T) {
	// Garbage proves no key, so it is charged to its address: after the read
	// burst of failures, that address's uploads are refused before being read,
	// even a valid one; another address is still served, and the bucket refills.
	clock := &fakeClock{now: t0.Add(time.Hour)}
	c := collectortest.NewWithConfig(t, collectortest.SQLite, collector.Config{
		Now:       clock.Now,
		RateLimit: &collector.RateLimit{IngestRate: 10, IngestBurst: 60, ReadRate: 1, ReadBurst: 3},
	})
	p := collectortest.NewProbe(t)
	flooder, other := clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
	ingest := c.URL + "/api/v1/measurements"
	for i := range 3 {
		if status, _ := send(t, flooder, http.MethodPost, ingest, []byte(`{"not":"signed"}`)); status != http.StatusBadRequest {
			t.Fatalf("garbage upload %d: %d, want 400", i, status)
		}
	}
	good := p.SignSpec(t, webSpec("https://good.example/", t0))
	if status, retry := send(t, flooder, http.MethodPost, ingest, good); status != http.StatusTooManyRequests || retry != "1" {
		t.Errorf("upload after 3 failures: %d, Retry-After %q; want 429, 1", status, retry)
	}
	if status, _ := send(t, other, http.MethodPost, ingest, good); status != http.StatusOK {
		t.Errorf("the same upload from another address: %d", status)
	}
	clock.advance(time.Second)
	if status, _ := send(t, flooder, http.MethodPost, ingest, p.SignSpec(t, webSpec("https://later.example/", t0))); status != http.StatusOK {
		t.Errorf("after the refill: %d, want 200", status)
	}
	// Successful uploads cost that bucket nothing.
	for i := range 5 {
		if status, _ := send(t, flooder, http.MethodPost, ingest, p.SignSpec(t, webSpec(fmt.Sprintf("https://ok%d.example/", i), t0))); status != http.StatusOK {
			t.Errorf("good upload %d: %d", i, status)
		}
	}
}
