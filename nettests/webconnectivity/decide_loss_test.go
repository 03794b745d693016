package webconnectivity

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/nettests"
)

func TestDecideTimeoutsAgainstCanaryLoss(t *testing.T) {
	clean := &LossSample{Failed: 0, Attempts: 24}
	lossy := &LossSample{Failed: 6, Attempts: 24} // a quarter of the canaries' connects lost
	for _, tc := range []struct {
		name      string
		mutate    func(o *Observations)
		loss      *LossSample
		want      string
		method    string
		wantsLoss bool
	}{
		{"one DNS timeout in two tries, no sample yet", func(o *Observations) { o.DNS.Attempts = Attempts{timeout, ok} }, nil, nettests.VerdictIntermittent, "dns.timeout", true},
		{"one DNS timeout in two tries, clean canaries", func(o *Observations) { o.DNS.Attempts = Attempts{timeout, ok} }, clean, nettests.VerdictOK, "", false},
		{"two DNS timeouts in three tries, clean canaries", func(o *Observations) { o.DNS.Attempts = Attempts{timeout, timeout, ok} }, clean, nettests.VerdictIntermittent, "dns.timeout", false},
		{"two DNS timeouts in three tries, lossy canaries", func(o *Observations) { o.DNS.Attempts = Attempts{timeout, timeout, ok} }, lossy, nettests.VerdictOK, "", false},
		{"one TCP timeout in two tries, clean canaries", func(o *Observations) { o.Endpoints[0].TCP = Attempts{timeout, ok} }, clean, nettests.VerdictOK, "", false},
		{"a reset is never loss", func(o *Observations) { o.Endpoints[0].TCP = Attempts{reset, ok} }, lossy, nettests.VerdictIntermittent, "tcp.reset", false},
		{"a reset and a timeout are not loss alone", func(o *Observations) { o.Endpoints[0].TCP = Attempts{timeout, reset, ok} }, lossy, nettests.VerdictIntermittent, "tcp.reset", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := cleanObs()
			tc.mutate(o)
			o.CanaryLoss = tc.loss
			d := Decide(o, nil)
			if d.Verdict != tc.want || d.Method != tc.method {
				t.Fatalf("verdict %s %s, want %s %s (evidence %+v)", d.Verdict, d.Method, tc.want, tc.method, d.Evidence)
			}
			if d.wantsLossSample != tc.wantsLoss {
				t.Errorf("wantsLossSample %v, want %v", d.wantsLossSample, tc.wantsLoss)
			}
			if tc.want == nettests.VerdictOK && !strings.Contains(d.Evidence.Detail, "explained by the network's loss") {
				t.Errorf("ok without saying why the timeouts were set aside: %q", d.Evidence.Detail)
			}
		})
	}
}

// TestDecideRandomLossNoURLIntermittent simulates clean URLs on links with 1, 3
// and 5 % random per-packet loss: each DNS, connect and handshake try times out
// with the chance that its packets are lost after its own retransmissions
// (DNS: four copies, each a query and a reply; TCP: the SYN or SYN-ACK lost twice;
// TLS: one flight lost past its retransmission), and the canary sample loses
// connects at the SYN-or-SYN-ACK rate. Over 200 URLs per rate no URL may be
// blocked or intermittent.
func TestDecideRandomLossNoURLIntermittent(t *testing.T) {
	for _, loss := range []float64{0.01, 0.03, 0.05} {
		exchange := 1 - (1-loss)*(1-loss) // a request or its answer lost
		perTry := map[string]float64{
			"dns": exchange * exchange * exchange * exchange,
			"tcp": exchange * exchange,
			"tls": exchange * exchange,
		}
		rng := rand.New(rand.NewPCG(uint64(loss*1000), 5))
		try := func(step string) string {
			if rng.Float64() < perTry[step] {
				return timeout
			}
			return ok
		}
		tries := func(step string) Attempts {
			var a Attempts
			for range 3 {
				f := try(step)
				a = append(a, f)
				if f == ok {
					break
				}
			}
			return a
		}
		bad := 0
		for range 200 {
			o := cleanObs()
			o.DNS.Attempts = tries("dns")
			o.Endpoints[0].TCP = tries("tcp")
			o.Endpoints[0].TLS.Attempts = tries("tls")
			d := Decide(o, nil)
			if d.wantsLossSample {
				s := &LossSample{Attempts: 24}
				for range 24 {
					if rng.Float64() < exchange {
						s.Failed++
					}
				}
				o.CanaryLoss = s
				d = Decide(o, nil)
			}
			if d.Verdict == nettests.VerdictBlocked || d.Verdict == nettests.VerdictIntermittent {
				bad++
				t.Logf("loss %.0f %%: %s %s (%+v)", loss*100, d.Verdict, d.Method, d.Evidence)
			}
		}
		if bad > 0 {
			t.Errorf("loss %.0f %%: %d of 200 clean URLs blocked or intermittent", loss*100, bad)
		}
	}
}

func TestBinomialTail(t *testing.T) {
	for _, tc := range []struct {
		n, k int
		p    float64
		want float64
	}{
		{3, 0, 0.1, 1},
		{3, 1, 0.1, 1 - 0.9*0.9*0.9},
		{3, 3, 0.5, 0.125},
		{2, 1, 0.25, 1 - 0.75*0.75},
	} {
		if got := binomialTail(tc.n, tc.k, tc.p); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("P(X >= %d | %d, %g) = %g, want %g", tc.k, tc.n, tc.p, got, tc.want)
		}
	}
}
