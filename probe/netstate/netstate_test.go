package netstate

import (
	"context"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/connectivity"
	"github.com/vantage-probe/vantage/probe/netx"
)

// labConfig mirrors a lab configuration: IP literals and one host per class.
var labConfig = connectivity.Config{Canaries: connectivity.CanaryLists{
	Domestic: []string{"https://shop.kz/", "10.1.0.1:443", "10.1.0.2:443"},
	Foreign:  []string{"https://wiki.example/", "10.2.0.1:443", "10.2.0.2:443", "10.2.0.3:443"},
}}

// fakeNet is the stream seam of the netx client the status connects with: listed
// addresses accept (after refusals refused connects each), the others are black
// holes that time out at once.
type fakeNet struct {
	mu       sync.Mutex
	up       map[string]bool
	refusals int
	tries    map[string]int
}

func healthyNet() *fakeNet {
	f := &fakeNet{up: map[string]bool{}, tries: map[string]int{}}
	for _, a := range []string{"10.1.0.1:443", "10.1.0.2:443", "10.1.0.9:443", "10.2.0.1:443", "10.2.0.2:443", "10.2.0.3:443", "10.2.0.9:443"} {
		f.up[a] = true
	}
	return f
}

func (f *fakeNet) dial(ctx context.Context, network, address string) (net.Conn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tries[address]++
	if f.tries[address] <= f.refusals {
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	if !f.up[address] {
		return nil, &net.OpError{Op: "dial", Net: network, Err: context.DeadlineExceeded}
	}
	a, b := net.Pipe()
	b.Close()
	return a, nil
}

func newTestStatus(t *testing.T, f *fakeNet) *Status {
	t.Helper()
	s, err := New(&nettests.Env{Netx: &netx.Client{Dial: f.dial}}, labConfig)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkKeys are the keys of a check that resolved the two host canaries.
func checkKeys(t *testing.T) *connectivity.TestKeys {
	cs, err := connectivity.Canaries(labConfig)
	if err != nil {
		t.Fatal(err)
	}
	tk := &connectivity.TestKeys{}
	tk.Verdict = nettests.NetworkOnline
	for _, c := range cs {
		o := connectivity.CanaryOutcome{Canary: c}
		switch c.Host {
		case "shop.kz":
			o.Addrs = []string{"10.1.0.9"}
		case "wiki.example":
			o.Addrs = []string{"2001:db8::1", "10.2.0.9"}
		}
		tk.Canaries = append(tk.Canaries, o)
	}
	return tk
}

func TestStatusObserve(t *testing.T) {
	s := newTestStatus(t, healthyNet())
	if s.Verdict() != "" {
		t.Fatalf("verdict before the first check: %q", s.Verdict())
	}
	// Without a check, only literals are targets: three foreign, then one domestic.
	if targets := s.quickTargets(); len(targets) != QuickCanaries || targets[0] != "10.2.0.1:443" || targets[3] != "10.1.0.1:443" {
		t.Fatalf("quick targets before a check %v", targets)
	}
	s.Observe(checkKeys(t))
	if s.Verdict() != nettests.NetworkOnline {
		t.Fatalf("verdict %q", s.Verdict())
	}
	// The host canaries' resolved addresses (IPv4 first) are now quick targets.
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
		{"one of four answers (domestic, the foreign ones cut)", func(f *fakeNet) {
			delete(f.up, "10.2.0.1:443")
			delete(f.up, "10.2.0.2:443")
			delete(f.up, "10.2.0.3:443")
		}, true},
		{"none answers", func(f *fakeNet) { f.up = map[string]bool{} }, false},
		{"every connect refused", func(f *fakeNet) { f.refusals = 1 << 20 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := healthyNet()
			tt.breakf(f)
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

// TestStatusCanariesUpUnderLoss: canaries that refuse some connects are up; the
// retries are what tell loss from a dead path.
func TestStatusCanariesUpUnderLoss(t *testing.T) {
	for refusals, want := range map[int]bool{QuickAttempts - 1: true, QuickAttempts: false} {
		f := healthyNet()
		f.refusals = refusals
		if got := newTestStatus(t, f).CanariesUp(context.Background()); got != want {
			t.Errorf("%d refusals per canary: CanariesUp %v, want %v", refusals, got, want)
		}
	}
}

// TestStatusCanaryLoss: every connect is counted, failed or not.
func TestStatusCanaryLoss(t *testing.T) {
	for _, refusals := range []int{0, 2, LossSamples} {
		f := healthyNet()
		f.refusals = refusals
		failed, attempts := newTestStatus(t, f).CanaryLoss(context.Background())
		if attempts != QuickCanaries*LossSamples || failed != QuickCanaries*refusals {
			t.Errorf("%d refusals per canary: %d of %d failed, want %d of %d", refusals, failed, attempts, QuickCanaries*refusals, QuickCanaries*LossSamples)
		}
	}
	if f, a := (&Status{}).CanaryLoss(context.Background()); f != 0 || a != 0 {
		t.Fatalf("a status without canaries sampled %d of %d", f, a)
	}
}

// TestNewRefusesBadCanaries: a bad canary entry fails loudly, as it does for
// connectivity.New, rather than leaving a status whose quick checks always report
// silence.
func TestNewRefusesBadCanaries(t *testing.T) {
	bad := connectivity.Config{Canaries: connectivity.CanaryLists{Foreign: []string{"ftp://nope"}}}
	if _, err := New(&nettests.Env{}, bad); err == nil || !strings.Contains(err.Error(), "canar") {
		t.Fatalf("bad canary accepted: %v", err)
	}
	s, err := New(&nettests.Env{}, connectivity.Config{Canaries: connectivity.CanaryLists{Foreign: []string{"192.0.2.1:443"}}})
	if err != nil || len(s.canaries) != 1 || s.canaries[0].Address != "192.0.2.1:443" {
		t.Fatalf("good canary: %v, %+v", err, s)
	}
}
