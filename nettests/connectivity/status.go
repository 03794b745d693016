package connectivity

import (
	"context"
	"sync"
	"time"

	"github.com/vantage-probe/vantage/nettests"
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
	canaries []Canary
	probes   Probes
	now      func() time.Time

	mu      sync.Mutex
	verdict string
	// learned are canary addresses seen resolved in the last check, by canary name.
	learned map[string]string
}

var _ nettests.NetworkStatus = (*Status)(nil)

// NewStatus builds a status over the canaries New would use, with quick
// primitives. A bad canary entry is an error, as it is for New: a status without
// canaries would report every URL's window as silent.
func NewStatus(env *nettests.Env, cfg Config) (*Status, error) {
	opts, err := optionsFor(env, cfg)
	if err != nil {
		return nil, err
	}
	opts.Probes = NetxProbes(netxOf(env), QuickTimeout)
	return NewStatusFrom(NewMeasurer(opts)), nil
}

func netxOf(env *nettests.Env) *netx.Config {
	if env == nil {
		return nil
	}
	return env.Netx
}

// NewStatusFrom builds a status sharing a measurer's canaries and primitives.
func NewStatusFrom(m *Measurer) *Status {
	return &Status{canaries: m.canaries, probes: m.probes, now: m.now, learned: map[string]string{}}
}

// Observe records a connectivity result: its verdict becomes the status's, and the
// addresses its canaries resolved to are kept for CanariesUp (which then needs no
// DNS). The runner calls it with every connectivity result.
func (s *Status) Observe(r nettests.NetworkResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.verdict = r.NetworkVerdict()
	tk, ok := r.(*TestKeys)
	if !ok {
		return
	}
	for _, c := range tk.Canaries {
		if a := pickAddress(c.Addrs); a != "" {
			s.learned[c.Name] = joinHostPort(a, c.Port)
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
		cctx, cancel := context.WithTimeout(ctx, QuickTimeout)
		ok, _ := s.probes.attempt(cctx, trace, ProtoTCP, addr, Canary{})
		cancel()
		if ok {
			return true
		}
	}
	return false
}

func (s *Status) quickTargets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, class := range []string{ClassForeign, ClassDomestic} {
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
				cctx, cancel := context.WithTimeout(ctx, QuickTimeout)
				ok, _ := s.probes.attempt(cctx, trace, ProtoTCP, addr, Canary{})
				cancel()
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
