package webconnectivity

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/dnstest"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// BenchmarkBlackHoledURLs measures 100 https URLs whose server accepts the connection
// and never answers (the TLS handshake hangs, as Kazakhstan's 2024 blocking does),
// through one shared Measurer with its default, adaptive timeouts and retries, with
// a pool of N goroutines, no control. The figure per run is in docs/methodology.md.
// Run: go test -run x -bench BlackHoled -benchtime 1x ./nettests/webconnectivity/
func BenchmarkBlackHoledURLs(b *testing.B) {
	const urls = 100
	for _, parallelism := range []int{10, 25, 100} {
		b.Run(fmt.Sprintf("parallelism=%d", parallelism), func(b *testing.B) {
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
			env := &nettests.Env{Netx: &netx.Config{Resolver: dns.UDPURL()}}
			m, err := NewWithConfig(env, Config{Helpers: []string{}, LabAllowPrivate: true, ValidationPort: closedPort})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				start := time.Now()
				verdicts := runPool(m, inputs, parallelism)
				elapsed := time.Since(start)
				b.ReportMetric(elapsed.Seconds(), "s/100urls")
				b.ReportMetric(elapsed.Seconds()*float64(parallelism)/urls, "s/url-slot")
				if verdicts[nettests.VerdictInconclusive] != urls {
					b.Fatalf("verdicts %v, want all inconclusive (no control)", verdicts)
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
