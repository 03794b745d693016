package webconnectivity

import (
	"sync"
	"testing"
	"time"
)

func TestStepTimeout(t *testing.T) {
	p := TimeoutPolicy{Initial: 7 * time.Second, Floor: 2 * time.Second, Ceiling: 10 * time.Second}
	var e RTTEstimator
	if got := e.StepTimeout(p); got != 7*time.Second {
		t.Fatalf("no samples: got %v, want the initial 7s", got)
	}
	for i := 1; i <= 10; i++ {
		e.Add(time.Duration(i) * 100 * time.Millisecond) // 100ms .. 1s
	}
	// p90 of 100..1000 ms (index 8 of 10) is 900 ms; 4 × 900 ms = 3.6 s.
	if got := e.StepTimeout(p); got != 3600*time.Millisecond {
		t.Fatalf("got %v, want 3.6s", got)
	}
	var fast RTTEstimator
	fast.Add(time.Millisecond)
	if got := fast.StepTimeout(p); got != 2*time.Second {
		t.Fatalf("fast network: got %v, want the 2s floor", got)
	}
	var slow RTTEstimator
	slow.Add(8 * time.Second)
	if got := slow.StepTimeout(p); got != 10*time.Second {
		t.Fatalf("slow network: got %v, want the 10s ceiling", got)
	}
}

func TestRTTEstimatorWindowAndConcurrency(t *testing.T) {
	var e RTTEstimator
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for i := 0; i < 100; i++ {
				e.Add(time.Second)
				_, _ = e.Percentile(0.5)
			}
		})
	}
	wg.Wait()
	for i := 0; i < rttWindow; i++ {
		e.Add(time.Millisecond)
	}
	// Every one-second sample has been pushed out of the window.
	if got, _ := e.Percentile(1); got != time.Millisecond {
		t.Fatalf("max after the window turned over = %v, want 1ms", got)
	}
}
