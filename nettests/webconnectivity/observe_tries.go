package webconnectivity

import (
	"context"
	"sync"
	"time"
)

// tries runs a step up to n times and returns each try's failure ("" for success)
// in the order the tries started. Try i starts i × RetrySpacing after the first,
// unless a try has already succeeded by then: the tries stay spaced in time (what
// intermittency needs, section 4 of docs/methodology.md), but a try that waits on a
// black hole no longer delays the next one. Three tries against a black hole thus
// cost 2 × spacing + one step timeout instead of three timeouts plus the spacing.
//
// Tries may run concurrently: step gets the try's index and must be safe for
// concurrent calls. tries returns when every started try has ended, so a try that
// fails after a later one succeeded is still recorded (it is evidence of
// intermittency) and no goroutine outlives the call.
func (m *Measurer) tries(ctx context.Context, n int, step func(i int) string) Attempts {
	if n <= 0 {
		return nil
	}
	out := make(Attempts, n)
	ended := make(chan int, n) // the index of each try that ended
	var wg sync.WaitGroup
	defer wg.Wait()
	start := func(i int) {
		wg.Go(func() {
			out[i] = step(i)
			ended <- i
		})
	}
	start(0)
	started, running, succeeded := 1, 1, false
	spacing := time.NewTimer(m.cfg.RetrySpacing) // fires when the next try is due
	defer spacing.Stop()
	for running > 0 || (started < n && !succeeded) {
		var due <-chan time.Time
		if started < n && !succeeded {
			due = spacing.C
		}
		select {
		case i := <-ended:
			running--
			succeeded = succeeded || out[i] == ""
		case <-due:
			start(started)
			started++
			running++
			spacing.Reset(m.cfg.RetrySpacing)
		case <-ctx.Done():
			// The started tries end on their own: they share ctx.
			for ; running > 0; running-- {
				<-ended
			}
			return out[:started]
		}
	}
	return out[:started]
}
