package webconnectivity

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/webconnectivity/thserver"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/dnstest"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// BenchmarkBlackHoledURLs measures 100 https URLs whose server accepts the connection
// and never answers (the TLS handshake hangs, as Kazakhstan's 2024 blocking does),
// through one shared Measurer with its default, adaptive timeouts and retries, with
// a pool of N goroutines, without a control and (control) with a helper that sees the
// same black hole. The figure per run is in docs/methodology.md.
// Run: go test -run x -bench BlackHoled -benchtime 1x ./nettests/webconnectivity/
func BenchmarkBlackHoledURLs(b *testing.B) {
	const urls = 100
	type setup struct {
		parallelism int
		control     bool // a helper that sees the same black hole: the URL waits for it
	}
	for _, sc := range []setup{{25, false}, {64, false}, {25, true}, {64, true}} {
		parallelism := sc.parallelism
		name := fmt.Sprintf("parallelism=%d", parallelism)
		if sc.control {
			name += "/control"
		}
		b.Run(name, func(b *testing.B) {
			hole := netxtest.NewBlackHole(b)
			_, port, _ := net.SplitHostPort(hole)
			_, closedPort, _ := net.SplitHostPort(netxtest.ClosedPort(b))
			rules := map[string]dnstest.Rule{}
			var inputs []string
			for i := 0; i < urls; i++ {
				name := fmt.Sprintf("bh%d.test", i)
				rules[name] = dnstest.Answer("127.0.0.1")
				inputs = append(inputs, "https://"+net.JoinHostPort(name, port)+"/")
			}
			dns := dnstest.NewServer(b, rules)
			env := &nettests.Env{Netx: &netx.Client{Resolver: dns.UDPURL()}}
			cfg := Config{Helpers: []string{}, LabAllowPrivate: true, ValidationPort: closedPort}
			want := nettests.VerdictInconclusive
			if sc.control {
				cfg.Helpers, want = []string{benchHelper(b)}, nettests.VerdictDown
			}
			m, err := NewWithConfig(env, cfg)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				start := time.Now()
				verdicts := runPool(m, inputs, parallelism)
				elapsed := time.Since(start)
				b.ReportMetric(elapsed.Seconds(), "s/100urls")
				b.ReportMetric(elapsed.Seconds()*float64(parallelism)/urls, "s/url-slot")
				if verdicts[want] != urls {
					b.Fatalf("verdicts %v, want all %s", verdicts, want)
				}
			}
		})
	}
}

// runPool measures inputs with a fixed pool of workers, as the runner does.
func runPool(m *Measurer, inputs []string, workers int) map[string]int {
	jobs := make(chan string)
	var mu sync.Mutex
	verdicts := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			for in := range jobs {
				keys, err := m.Run(context.Background(), in, netx.NewTrace(time.Now(), nil))
				v := "error"
				if err == nil {
					v, _ = keys.(*TestKeys).URLVerdict()
				}
				mu.Lock()
				verdicts[v]++
				mu.Unlock()
			}
		})
	}
	for _, in := range inputs {
		jobs <- in
	}
	close(jobs)
	wg.Wait()
	return verdicts
}

// benchHelper runs a control helper with its default budgets that resolves every
// name to 127.0.0.1.
func benchHelper(b *testing.B) string {
	h, err := thserver.New(thserver.Config{AllowPrivate: true, Lookup: func(context.Context, string) ([]string, error) {
		return []string{"127.0.0.1"}, nil
	}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return srv.URL + "/"
}
