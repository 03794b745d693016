package webconnectivity

import (
	"fmt"
	"math"

	"github.com/vantage-probe/vantage/probe/netx"
)

// Intermittent beyond the network's own loss. Random packet loss can only make a
// step time out: it never forges a reset, an NXDOMAIN or a certificate. A step
// whose failed tries all timed out is therefore called intermittent only when its
// failures are improbable under the loss the canaries show in the same window
// (docs/methodology.md, section 4).
const (
	// lossAlpha is the chance, under the canaries' loss, of seeing at least as many
	// timeouts as the step did, below which the site is blamed: one in a hundred,
	// so that a list of a hundred URLs on a lossy but clean link has about one
	// false intermittent rather than dozens.
	lossAlpha = 0.01
)

// LossSample is the canaries' per-connect loss measured around a URL's tries.
type LossSample struct {
	Failed   int `json:"failed"`
	Attempts int `json:"attempts"`
}

// rate is the loss estimate: (failed + 1) / (attempts + 2), Laplace's rule, so that
// a sample with no failure still admits some loss (24 clean connects give 3.8 %).
func (s LossSample) rate() float64 {
	return float64(s.Failed+1) / float64(s.Attempts+2)
}

// timeoutsOnly reports whether every failed try of a timed out.
func timeoutsOnly(a Attempts) bool {
	failed := false
	for _, f := range a {
		if f == "" {
			continue
		}
		if f != netx.FailureGenericTimeout {
			return false
		}
		failed = true
	}
	return failed
}

// lossExplains reports whether the canaries' loss explains a step's mixed tries,
// and why, for the evidence. Without a sample it explains nothing: the verdict
// then rests on the URL's own tries, as before the sample existed.
func lossExplains(a Attempts, s *LossSample) (string, bool) {
	if s == nil || s.Attempts == 0 || !timeoutsOnly(a) {
		return "", false
	}
	n, k := len(a), len(a)-a.Successes()
	p := s.rate()
	tail := binomialTail(n, k, p)
	if tail < lossAlpha {
		return "", false
	}
	return fmt.Sprintf("%d of %d tries timed out; canaries lost %d of %d connects in the same window (%.1f %%): P(>= %d timeouts) = %.3f, explained by the network's loss",
		k, n, s.Failed, s.Attempts, 100*p, k, tail), true
}

// binomialTail is P(X >= k) for X ~ Binomial(n, p).
func binomialTail(n, k int, p float64) float64 {
	sum := 0.0
	for j := k; j <= n; j++ {
		sum += binomial(n, j) * math.Pow(p, float64(j)) * math.Pow(1-p, float64(n-j))
	}
	return min(sum, 1)
}

func binomial(n, k int) float64 {
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}
