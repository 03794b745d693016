package connectivity

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
)

// Pulses sample reachability across the whole check, between and during the rounds:
// three rounds are three bursts, and a network that flips on and off every few
// seconds can show "on" at all three (the curfew-like restorations of January 2022,
// detection-methods.md §1.1). Every PulseInterval one TCP connect goes to the next
// ordinary canary in turn (domestic and foreign alternating); a long enough run of
// failures beside a run of successes is a flip, whatever the rounds saw.
const (
	// DefaultPulseInterval: four samples a second see an off window of two seconds
	// (a flip period of four) as a run of about eight failed connects.
	DefaultPulseInterval = 250 * time.Millisecond
	// DefaultPulseTimeout bounds one pulse connect. Canaries are near, so a second
	// is many round trips; it is also TCP's initial retransmission timeout
	// (RFC 6298), so a pulse whose SYN falls in an off window is not rescued by a
	// retransmission after the window: it fails, as the user's connection would
	// have stalled.
	DefaultPulseTimeout = time.Second
	// PulseRunMin is how many consecutive pulses, over at least PulseRunSpan, make
	// a run (down: all failed; up: all answered). Under random loss a pulse fails
	// when its SYN or SYN-ACK is lost: about 10 % at 5 % loss per packet, so five
	// failures in a row happen about once in 10^5 positions, once in a thousand
	// checks of 80 pulses; an off window of two seconds fails about eight.
	PulseRunMin = 5
	// PulseRunSpan is the least time a run covers: a second, so that a single
	// lost burst (a radio handover) is not a flip.
	PulseRunSpan = time.Second
)

// Pulse is one sample: when it started (seconds since the measurement's zero),
// which canary it went to, and whether it connected.
type Pulse struct {
	T      float64 `json:"t"`
	Canary string  `json:"canary"`
	OK     bool    `json:"ok"`
}

// pulseTargets is the rotation of ordinary canaries and the address each is probed
// on, filled as round one resolves the host canaries. Safe for concurrent use.
type pulseTargets struct {
	mu    sync.Mutex
	order []int // indexes into addrs, domestic and foreign alternating
	names []string
	addrs []string
	next  int
}

func newPulseTargets(cs []Canary) *pulseTargets {
	p := &pulseTargets{names: make([]string, len(cs)), addrs: make([]string, len(cs))}
	var dom, frn []int
	for i, c := range cs {
		p.names[i], p.addrs[i] = c.Name, c.Address
		switch c.Class {
		case ClassDomestic:
			dom = append(dom, i)
		case ClassForeign:
			frn = append(frn, i)
		}
	}
	for i := 0; i < max(len(dom), len(frn)); i++ {
		if i < len(dom) {
			p.order = append(p.order, dom[i])
		}
		if i < len(frn) {
			p.order = append(p.order, frn[i])
		}
	}
	return p
}

// learn records the address canary i is probed on.
func (p *pulseTargets) learn(i int, addr string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.addrs[i] = addr
}

// pick returns the next canary in the rotation that has an address.
func (p *pulseTargets) pick() (name, addr string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range p.order {
		i := p.order[p.next%len(p.order)]
		p.next++
		if p.addrs[i] != "" {
			return p.names[i], p.addrs[i], true
		}
	}
	return "", "", false
}

// runPulses sends a pulse every interval until ctx ends, each bounded by timeout,
// and returns them in start order. Pulses still in flight when ctx ends are
// dropped: they measured the check's end, not the network.
// watch, when not nil, is told of each pulse as it starts and ends (the early stop).
func (m *Measurer) runPulses(ctx context.Context, trace *netx.Trace, targets *pulseTargets, interval, timeout time.Duration, watch *pulseWatch) []Pulse {
	var (
		mu  sync.Mutex
		out []Pulse
		wg  sync.WaitGroup
	)
	if len(targets.order) == 0 {
		return nil
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	quiet := netx.NewTrace(time.Now(), nil) // pulses are counted, not recorded as events
	for {
		name, addr, ok := targets.pick()
		if ok {
			t := trace.Elapsed()
			watch.started()
			wg.Go(func() {
				pctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				conn, err := m.probes.DialTCP(pctx, quiet, addr)
				if conn != nil {
					conn.Close()
				}
				if ctx.Err() != nil {
					return
				}
				p := Pulse{T: t, Canary: name, OK: err == nil}
				watch.done(p)
				mu.Lock()
				out = append(out, p)
				mu.Unlock()
			})
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			sortPulses(out)
			return out
		case <-ticker.C:
		}
	}
}

func sortPulses(ps []Pulse) {
	slices.SortStableFunc(ps, func(a, b Pulse) int { return cmp.Compare(a.T, b.T) })
}

// pulsesFlip reports whether the pulses (in start order) hold a down run and an up
// run: PulseRunMin consecutive failures, and as many consecutive successes, each
// spanning at least PulseRunSpan.
func pulsesFlip(ps []Pulse) bool {
	return hasRun(ps, false) && hasRun(ps, true)
}

func hasRun(ps []Pulse, ok bool) bool {
	start := -1
	for i, p := range ps {
		if p.OK != ok {
			start = -1
			continue
		}
		if start < 0 {
			start = i
		}
		if i-start+1 >= PulseRunMin && ps[i].T-ps[start].T >= PulseRunSpan.Seconds()-1e-9 {
			return true
		}
	}
	return false
}

// Pulse loss: a network where many new connections fail while others get through
// (Beeline, January 2022: "some customers could connect sometimes") shows no run
// of failures, yet its users cannot rely on a connection starting. The rounds
// rarely see it, because their attempts are allowed TCP's retransmissions; the
// pulses are single-SYN samples (DefaultPulseTimeout), so they do.
const (
	// PulseLossTolerated is the share of pulses random packet loss on a working
	// link fails: a pulse fails when its SYN or SYN-ACK is lost, about 10 % at 5 %
	// per-packet loss (the lossy mobile links that must stay online, methodology
	// class 4).
	PulseLossTolerated = 0.10
	// PulseLossAlpha: the failures must be less likely than this under
	// PulseLossTolerated before they are called a partial shutdown (one check in a
	// hundred on a 5 %-loss link at worst).
	PulseLossAlpha = 0.01
)

// pulsesLossy reports whether the pulses failed beyond what random loss on a
// working link explains: fewer than OnlineRatio answered, some did answer, and
// the binomial tail of that many failures under PulseLossTolerated is below
// PulseLossAlpha.
func pulsesLossy(ps []Pulse) bool {
	failed := 0
	for _, p := range ps {
		if !p.OK {
			failed++
		}
	}
	n := len(ps)
	if n == 0 || failed == n || float64(n-failed)/float64(n) >= OnlineRatio {
		return false
	}
	return binomialTail(n, failed, PulseLossTolerated) < PulseLossAlpha
}

// binomialTail is P(X >= k) for X ~ Binomial(n, p).
func binomialTail(n, k int, p float64) float64 {
	sum := 0.0
	term := math.Pow(1-p, float64(n)) // P(X = 0)
	for i := 0; i <= n; i++ {
		if i >= k {
			sum += term
		}
		term *= float64(n-i) / float64(i+1) * p / (1 - p)
	}
	return sum
}

// pulseVerdict is the verdict the pulses alone support, "" when they show no flip.
func pulseVerdict(ps []Pulse) (string, string) {
	if pulsesFlip(ps) {
		return nettests.NetworkPartialShutdown, ReasonFlapping
	}
	return "", ""
}
