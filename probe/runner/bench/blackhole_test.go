// The benchmark lives apart from package runner so that runner's unit tests do
// not depend on the web_connectivity nettest.
package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/webconnectivity"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
	"github.com/vantage-probe/vantage/probe/runner"
	"github.com/vantage-probe/vantage/probe/store"
)

// blackHoleStepTimeout is the per-step budget of the benchmark: short, so that the
// benchmark is quick, and fixed (no adaptation), so that the per-URL cost is stable.
const blackHoleStepTimeout = 500 * time.Millisecond

// BenchmarkBlackHoledList measures a list of 100 black-holed URLs (a loopback
// listener that accepts and never answers, so every TLS handshake times out) with
// the real web_connectivity measurer and the run's pool, at several parallelisms.
// It reports the cost of one URL alone (s/url) and of the whole list (s/list), to
// compare with (100 / parallelism) x s/url. Figures: docs/cli.md.
//
//	go test -run '^$' -bench BlackHoled -benchtime 1x ./probe/runner/bench/
func BenchmarkBlackHoledList(b *testing.B) {
	hole := netxtest.NewBlackHole(b)
	var urls []string
	for i := range 100 {
		urls = append(urls, fmt.Sprintf("https://%s/page%d", hole, i))
	}
	one := runBlackHole(b, urls[:1], 1)
	b.ReportMetric(one.Seconds(), "s/url")
	for _, p := range []int{1, 8, 32, 64} {
		if p == 1 && testing.Short() {
			continue
		}
		b.Run(fmt.Sprintf("parallelism=%d", p), func(b *testing.B) {
			for range b.N {
				took := runBlackHole(b, urls, p)
				b.ReportMetric(took.Seconds(), "s/list")
				b.ReportMetric(float64(len(urls))/float64(p)*one.Seconds(), "s/predicted")
			}
		})
	}
}

func runBlackHole(b *testing.B, urls []string, parallelism int) time.Duration {
	b.Helper()
	st, err := store.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	env := &nettests.Env{Netx: &netx.Client{Resolver: "udp://127.0.0.1:1"}, Now: time.Now}
	m, err := webconnectivity.NewWithConfig(env, webconnectivity.Config{
		Retries: 1, RetrySpacing: time.Millisecond, QUIC: false, LabAllowPrivate: true,
		Timeouts:  webconnectivity.TimeoutPolicy{Initial: blackHoleStepTimeout, Floor: blackHoleStepTimeout, Ceiling: blackHoleStepTimeout},
		URLBudget: 10 * time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	r := &runner.Runner{Measurer: m, Key: priv, Store: st, Parallelism: parallelism, Origin: runner.Origin{ProbeCC: "ZZ", ProbeASN: "AS0"}}
	start := time.Now()
	sum, err := r.Run(context.Background(), urls)
	if err != nil {
		b.Fatal(err)
	}
	if sum.Measurements != len(urls) {
		b.Fatalf("%d measurements for %d URLs", sum.Measurements, len(urls))
	}
	return time.Since(start)
}
