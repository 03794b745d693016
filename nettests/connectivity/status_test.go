package connectivity

import (
	"context"
	"testing"

	"github.com/vantage-probe/vantage/nettests"
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
		{"half answer", func(f *fakeNet) { f.down("10.2.0.1:443", "10.2.0.2:443") }, true},
		{"one of four answers", func(f *fakeNet) { f.down("10.2.0.1:443", "10.2.0.2:443", "10.2.0.3:443") }, false},
		{"none answers", func(f *fakeNet) { f.shutdown() }, false},
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
