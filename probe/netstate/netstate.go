// Package netstate is the runner's live view of the network during a run: the
// latest network verdict, and quick canary checks on demand (CanariesUp,
// CanaryLoss) that web_connectivity asks between a URL's retries. The connectivity
// nettest decides the verdict; this package only remembers it and samples the
// canaries that nettest uses.
package netstate

import (
	"context"
	"sync"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/connectivity"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/report/clock"
)

// Quick check of CanariesUp: a few TCP connects with a short timeout.
const (
	// QuickCanaries is how many canaries CanariesUp connects to.
	QuickCanaries = 4
	// QuickAttempts is how many connects CanariesUp tries per canary. Under random
	// per-connection loss (Beeline, January 2022; the lab refuses 60 % of new
	// connections) one connect to each of four canaries all fail 13 % of the time
	// (0.6^4); three tries each bring that to 0.2 % (0.6^12).
	QuickAttempts = 3
	// QuickTimeout bounds each connect of CanariesUp: it runs between URL
	// retries, so it must cost less than the retry it qualifies; 1.5 s is several
	// round trips to any canary.
	QuickTimeout = 1500 * time.Millisecond
	// QuickBudget bounds a whole CanariesUp call: against black holes, two rounds
	// of connects; refusals are instant, so all QuickAttempts fit.
	QuickBudget = 3 * time.Second
)

// Status holds the latest network verdict for the runner and checks canaries
// quickly on demand. It is safe for concurrent use.
type Status struct {
	canaries []connectivity.Canary
	connect  netx.ConnectFunc
	now      func() time.Time

	mu      sync.Mutex
	verdict string
	// learned are canary addresses seen probed in the last check, by canary name.
	learned map[string]string
}

var _ nettests.NetworkStatus = (*Status)(nil)

// New builds the live state over the canaries a connectivity check with cfg
// probes, connecting through env's netx client (its Dial seam included) with
// QuickTimeout per connect. A bad canary entry is an error, as it is for
// connectivity.New: a state without canaries would call every URL's window silent.
func New(env *nettests.Env, cfg connectivity.Config) (*Status, error) {
	canaries, err := connectivity.Canaries(cfg)
	if err != nil {
		return nil, err
	}
	nc := netx.Client{}
	now := time.Now
	if env != nil && env.Netx != nil {
		nc = *env.Netx
	}
	if env != nil && env.Now != nil {
		now = env.Now
	}
	nc.Timeout = QuickTimeout
	return &Status{canaries: canaries, connect: nc.DialTCP, now: now, learned: map[string]string{}}, nil
}

// Observe records a connectivity result: its verdict becomes the status's, and the
// addresses its host canaries were probed at are kept for CanariesUp (which then
// needs no DNS). The runner calls it with every connectivity result.
func (s *Status) Observe(r nettests.NetworkResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.verdict = r.NetworkVerdict()
	tk, ok := r.(*connectivity.TestKeys)
	if !ok {
		return
	}
	for _, c := range tk.Canaries {
		if a := c.ProbedAddress(); a != "" && c.Address == "" {
			s.learned[c.Name] = a
		}
	}
}

// Verdict implements nettests.NetworkStatus.
func (s *Status) Verdict() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.verdict
}

// CanariesUp implements nettests.NetworkStatus: it connects over TCP to up to
// QuickCanaries canaries at once (foreign first, most URLs being abroad), up to
// QuickAttempts times each within QuickBudget, and reports whether any answered.
// One answer proves the network forwards in this window, which is the question;
// whether it is restricted is the verdict's business. Host canaries are reached at
// the address the last check resolved; those never resolved are skipped, so that a
// quick check never waits on DNS.
func (s *Status) CanariesUp(ctx context.Context) bool {
	targets := s.quickTargets()
	if len(targets) == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, QuickBudget)
	defer cancel()
	trace := netx.NewTrace(s.now(), s.now)
	answered := make(chan bool, len(targets))
	for _, addr := range targets {
		go func() { answered <- s.connectRetrying(ctx, trace, addr) }()
	}
	up := false
	for range targets {
		if <-answered && !up {
			up = true
			cancel() // the question is answered: stop the other connects
		}
	}
	return up
}

// connectRetrying tries addr up to QuickAttempts times; it reports a success.
func (s *Status) connectRetrying(ctx context.Context, trace *netx.Trace, addr string) bool {
	for i := 0; i < QuickAttempts && ctx.Err() == nil; i++ {
		if s.connectOnce(ctx, trace, addr) {
			return true
		}
	}
	return false
}

// connectOnce opens and closes one TCP connection to addr within QuickTimeout.
func (s *Status) connectOnce(ctx context.Context, trace *netx.Trace, addr string) bool {
	cctx, cancel := context.WithTimeout(ctx, QuickTimeout)
	defer cancel()
	conn, err := s.connect(cctx, trace, addr)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func (s *Status) quickTargets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, class := range []string{connectivity.ClassForeign, connectivity.ClassDomestic} {
		for _, c := range s.canaries {
			addr := c.Address
			if addr == "" {
				addr = s.learned[c.Name]
			}
			if c.Class == class && addr != "" && len(out) < QuickCanaries {
				out = append(out, addr)
			}
		}
	}
	return out
}

// Sampling of CanaryLoss: the per-connect loss of the canaries, now, to weigh a
// URL's timeouts against (docs/methodology.md, "Retries and intermittent").
const (
	// LossSamples is how many connects CanaryLoss makes per canary (QuickCanaries
	// of them at once): 4 × 6 = 24 connects, enough that a clean path estimates
	// its loss below 4 %, so that two timeouts in three tries of a URL stand out.
	LossSamples = 6
	// LossSpacing separates one canary's connects, so that they sample a second
	// and a half of the window rather than one instant.
	LossSpacing = 250 * time.Millisecond
)

// CanaryLoss connects over TCP LossSamples times to each of up to QuickCanaries
// canaries (as CanariesUp chooses them), LossSpacing apart, each bounded by
// QuickTimeout, and returns how many connects failed out of how many were made.
// Every connect is counted, whatever the others did: the share estimates the
// network's own loss in this window.
func (s *Status) CanaryLoss(ctx context.Context) (failed, attempts int) {
	targets := s.quickTargets()
	if len(targets) == 0 {
		return 0, 0
	}
	trace := netx.NewTrace(s.now(), s.now)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, addr := range targets {
		wg.Go(func() {
			for i := 0; i < LossSamples && ctx.Err() == nil; i++ {
				if i > 0 && clock.Sleep(ctx, LossSpacing) != nil {
					return
				}
				ok := s.connectOnce(ctx, trace, addr)
				if ctx.Err() != nil {
					return // the caller gave up: not the network's loss
				}
				mu.Lock()
				attempts++
				if !ok {
					failed++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return failed, attempts
}
