package connectivity

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
)

func newTestStatus(t *testing.T, f *fakeNet) *Status {
	m := NewMeasurer(Options{Canaries: labCanaries(t), Probes: f.probes(), System: fakeSystem(routeWithDefault, "", eth0)})
	return NewStatusFrom(m)
}

func TestStatusObserve(t *testing.T) {
	s := newTestStatus(t, healthyNet())
	if s.Verdict() != "" {
		t.Fatalf("verdict before the first check: %q", s.Verdict())
	}
	tk, _ := runFake(t, healthyNet(), fakeSystem(routeWithDefault, "", eth0), labCanaries(t))
	s.Observe(tk)
	if s.Verdict() != nettests.NetworkOnline {
		t.Fatalf("verdict %q", s.Verdict())
	}
	// The host canaries' resolved addresses are now quick targets.
	targets := s.quickTargets()
	if len(targets) != QuickCanaries || targets[0] != "10.2.0.9:443" {
		t.Fatalf("quick targets %v: want the learned foreign address first", targets)
	}
}

func TestStatusCanariesUp(t *testing.T) {
	tests := []struct {
		name   string
		breakf func(f *fakeNet)
		want   bool
	}{
		{"all answer", func(*fakeNet) {}, true},
		{"one of four answers (domestic, the foreign ones cut)", func(f *fakeNet) { f.down("10.2.0.1:443", "10.2.0.2:443", "10.2.0.3:443") }, true},
		{"none answers", func(f *fakeNet) { f.shutdown() }, false},
		{"every connect refused", func(f *fakeNet) {
			for _, a := range append(append([]string{}, domesticAddrs...), foreignAddrs...) {
				f.tcp[a] = &netx.Error{Failure: netx.FailureConnectionRefused}
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := healthyNet()
			tt.breakf(f)
			// Without a check, only literals are targets: three foreign, then one domestic.
			s := newTestStatus(t, f)
			if got := s.CanariesUp(context.Background()); got != tt.want {
				t.Fatalf("CanariesUp %v, want %v (targets %v)", got, tt.want, s.quickTargets())
			}
		})
	}
	if (&Status{}).CanariesUp(context.Background()) {
		t.Fatal("a status without canaries reported them up")
	}
}

// flakyDialer refuses the first refusals connects to every address, then accepts:
// per-connection loss as in a partial shutdown.
type flakyDialer struct {
	mu       sync.Mutex
	refusals int
	tries    map[string]int
}

func (d *flakyDialer) dial(ctx context.Context, trace *netx.Trace, address string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tries[address]++
	if d.tries[address] <= d.refusals {
		return nil, &netx.Error{Failure: netx.FailureConnectionRefused}
	}
	a, b := net.Pipe()
	b.Close()
	return a, nil
}

// TestStatusCanariesUpUnderLoss: canaries that refuse some connects are up; the
// retries are what tell loss from a dead path.
func TestStatusCanariesUpUnderLoss(t *testing.T) {
	for refusals, want := range map[int]bool{QuickAttempts - 1: true, QuickAttempts: false} {
		d := &flakyDialer{refusals: refusals, tries: map[string]int{}}
		p := healthyNet().probes()
		p.DialTCP = d.dial
		s := NewStatusFrom(NewMeasurer(Options{Canaries: labCanaries(t), Probes: p, System: fakeSystem(routeWithDefault, "", eth0)}))
		if got := s.CanariesUp(context.Background()); got != want {
			t.Errorf("%d refusals per canary: CanariesUp %v, want %v", refusals, got, want)
		}
	}
}

// TestStatusCanaryLoss: every connect is counted, failed or not.
func TestStatusCanaryLoss(t *testing.T) {
	for _, refusals := range []int{0, 2, LossSamples} {
		d := &flakyDialer{refusals: refusals, tries: map[string]int{}}
		p := healthyNet().probes()
		p.DialTCP = d.dial
		s := NewStatusFrom(NewMeasurer(Options{Canaries: labCanaries(t), Probes: p, System: fakeSystem(routeWithDefault, "", eth0)}))
		failed, attempts := s.CanaryLoss(context.Background())
		if attempts != QuickCanaries*LossSamples || failed != QuickCanaries*refusals {
			t.Errorf("%d refusals per canary: %d of %d failed, want %d of %d", refusals, failed, attempts, QuickCanaries*refusals, QuickCanaries*LossSamples)
		}
	}
	if f, a := (&Status{}).CanaryLoss(context.Background()); f != 0 || a != 0 {
		t.Fatalf("a status without canaries sampled %d of %d", f, a)
	}
}

// TestNewStatusRefusesBadCanaries: a bad canary entry fails loudly, as it does for
// New, rather than leaving a status whose quick checks always report silence.
func TestNewStatusRefusesBadCanaries(t *testing.T) {
	if _, err := NewStatus(&nettests.Env{}, Config{Canaries: CanaryLists{Foreign: []string{"ftp://nope"}}}); err == nil || !strings.Contains(err.Error(), "canar") {
		t.Fatalf("bad canary accepted: %v", err)
	}
	s, err := NewStatus(&nettests.Env{}, Config{Canaries: CanaryLists{Foreign: []string{"192.0.2.1:443"}}})
	if err != nil || len(s.canaries) != 1 || s.canaries[0].Address != "192.0.2.1:443" {
		t.Fatalf("good canary: %v, %+v", err, s)
	}
}
