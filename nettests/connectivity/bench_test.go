package connectivity

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// The benchmarks measure one check with the default rounds, spacing, attempts and
// timeouts; docs/methodology-network.md quotes their figures. Run them with
// go test -run '^$' -bench Check -benchtime 1x ./nettests/connectivity/

// BenchmarkCheckLoopbackOnline: real netx primitives, loopback HTTPS canaries (no
// QUIC listener, so the first round waits out the QUIC timeouts, as for a canary
// without HTTP/3).
func BenchmarkCheckLoopbackOnline(b *testing.B) {
	ca := netxtest.MustCA(b, "bench")
	cert := netxtest.MustIssue(b, ca, "127.0.0.1")
	var addrs []string
	for i := 0; i < 4; i++ {
		addrs = append(addrs, netxtest.NewHTTPS1Server(b, cert, http.HandlerFunc(bigPage)).Addr)
	}
	cs, err := ParseCanaries(addrs[:2], addrs[2:])
	if err != nil {
		b.Fatal(err)
	}
	nc := &netx.Client{Roots: ca.Pool(), ClientHello: netx.ClientHelloGo}
	benchCheck(b, cs, netxPrimitives(nc, DefaultAttemptTimeout), "online")
}

// BenchmarkCheckBlackHoled: every canary and the resolver swallow packets (each
// attempt lasts its whole timeout), the gateway refuses: a full shutdown's worst case.
func BenchmarkCheckBlackHoled(b *testing.B) {
	wait := func(ctx context.Context) error { <-ctx.Done(); return timeoutErr("connect") }
	p := primitives{
		Lookup: func(ctx context.Context, _ *netx.Trace, _ string) ([]string, error) { return nil, wait(ctx) },
		DialTCP: func(ctx context.Context, _ *netx.Trace, address string) (net.Conn, error) {
			if address == "192.168.1.1:53" {
				return nil, &netx.Error{Failure: netx.FailureConnectionRefused}
			}
			return nil, wait(ctx)
		},
		HandshakeQUIC: func(ctx context.Context, _ *netx.Trace, _, _ string, _ []string) (*quic.Conn, *netx.TLSHandshakeEvent, error) {
			err := wait(ctx)
			return nil, &netx.TLSHandshakeEvent{Failure: netx.FailureOf(err)}, err
		},
	}
	cs, err := DefaultCanaries("KZ")
	if err != nil {
		b.Fatal(err)
	}
	benchCheck(b, cs, p, "full_shutdown")
}

func benchCheck(b *testing.B, cs []Canary, p primitives, want string) {
	m := newMeasurer(options{Canaries: cs, primitives: p, System: fakeSystem(routeWithDefault, "", eth0)})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		keys, err := m.Run(context.Background(), "", netx.NewTrace(start, nil))
		if err != nil {
			b.Fatal(err)
		}
		if tk := keys.(*TestKeys); tk.Verdict != want {
			b.Fatalf("verdict %s (%s), want %s", tk.Verdict, tk.Reason, want)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/check")
	}
}
