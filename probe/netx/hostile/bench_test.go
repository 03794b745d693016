package hostile_test

import (
	"context"
	"testing"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/hostile"
)

// The benchmarks report bytes allocated per fetch against each unbounded attack
// (-benchmem): the figures docs/security.md quotes. The body cap is the default,
// 1 MiB.

func benchmarkFetch(b *testing.B, url string) {
	b.ReportAllocs()
	var c netx.Client
	for b.Loop() {
		res, _ := c.Fetch(context.Background(), netx.NewTrace(timeZero, nil), url, netx.FetchOptions{})
		if res == nil {
			b.Fatal("no result")
		}
	}
}

func BenchmarkFetchEndlessBody(b *testing.B) { benchmarkFetch(b, hostile.NewEndlessBody(b).URL) }

func BenchmarkFetchGzipBomb64MiB(b *testing.B) {
	benchmarkFetch(b, hostile.NewGzipServer(b, hostile.GzipBomb(b, 64<<20)).URL)
}

func BenchmarkFetchEndlessHeaderLine(b *testing.B) {
	benchmarkFetch(b, hostile.NewEndlessHeaderLine(b).URL)
}

func BenchmarkLookupReplyFlood(b *testing.B) {
	b.ReportAllocs()
	srv := hostile.NewDNSServer(b, hostile.Flood(1000))
	c := netx.Client{Timeout: phaseTimeout}
	for b.Loop() {
		_, _ = c.LookupWithOptions(context.Background(), nil, srv.UDPURL(), "hostile.example", netx.DNSOptions{DuplicateWindow: -1})
	}
}
