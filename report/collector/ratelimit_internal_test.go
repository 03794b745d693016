package collector

import (
	"net/http/httptest"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

func TestLimiterCapsTrackedClients(t *testing.T) {
	const maxClients = 4
	l := newLimiter[netip.Prefix](1, 1, maxClients, time.Hour)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	first := netip.MustParsePrefix("10.0.0.0/32")
	if ok, _ := l.allow(first, now); !ok {
		t.Fatal("first request refused")
	}
	if ok, _ := l.allow(first, now); ok {
		t.Fatal("second request of a burst of 1 allowed")
	}
	for i := range 1000 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 32)
		l.allow(p, now)
		if n := l.tracked(); n > maxClients {
			t.Fatalf("after %d clients: %d tracked, cap %d", i+1, n, maxClients)
		}
	}
	if n := l.tracked(); n != maxClients {
		t.Errorf("%d tracked, want the cap %d", n, maxClients)
	}
	// The least recently seen clients went first: the most recent one is still
	// limited, the oldest one starts over.
	last := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, 999 >> 8, 999 & 0xff}), 32)
	if ok, _ := l.allow(last, now); ok {
		t.Error("most recent client forgotten")
	}
	if ok, _ := l.allow(first, now); !ok {
		t.Error("oldest client still tracked")
	}
	// Idle clients are forgotten by the next request.
	l.allow(netip.MustParsePrefix("10.9.9.9/32"), now.Add(2*time.Hour))
	if n := l.tracked(); n != 1 {
		t.Errorf("after the idle time: %d tracked, want 1", n)
	}
}

func TestClientPrefix(t *testing.T) {
	cases := []struct {
		remote, xff string
		trust       bool
		want        string
	}{
		{"192.0.2.1:5000", "", false, "192.0.2.1/32"},
		{"[::ffff:192.0.2.1]:5000", "", false, "192.0.2.1/32"},
		{"[2001:db8:1:2:aaaa::1]:5000", "", false, "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:5000", "", false, "fe80::/64"},
		{"192.0.2.1:5000", "198.51.100.7", false, "192.0.2.1/32"},
		{"192.0.2.1:5000", "203.0.113.1, 198.51.100.7", true, "198.51.100.7/32"},
		{"192.0.2.1:5000", "2001:db8::5", true, "2001:db8::/64"},
		{"192.0.2.1:5000", "garbage", true, "192.0.2.1/32"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		got, ok := clientPrefix(r, c.trust)
		if !ok || got.String() != c.want {
			t.Errorf("%s %q trust %v: %v %v, want %s", c.remote, c.xff, c.trust, got, ok, c.want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "@"
	if _, ok := clientPrefix(r, false); ok {
		t.Error("unix socket peer has an address")
	}
}

// BenchmarkLimiterNewClients measures a request from a client never seen before
// with the limiter full (an eviction every time), and the memory per tracked
// client, for the figures in docs/collector.md.
func BenchmarkLimiterNewClients(b *testing.B) {
	const maxClients = 1 << 16
	l := newLimiter[netip.Prefix](DefaultIngestRate, DefaultIngestBurst, maxClients, time.Hour)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range maxClients {
		l.allow(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32), now)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perClient := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / maxClients
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		l.allow(netip.PrefixFrom(netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}), 32), now)
	}
	b.ReportMetric(perClient, "heap-B/client")
}
