package runner

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vantage-probe/vantage/report"
)

// completed is one finished measurement waiting to be confirmed.
type completed struct {
	meas *report.Measurement
	at   time.Time
}

// measureAll runs a fixed pool of Parallelism workers over inputs. Results come
// back to this goroutine, which confirms them against the network in batches (see
// ConfirmInterval) and saves the confirmed ones; what is still held at the end is
// returned for the after-check to decide.
func (s *state) measureAll(ctx context.Context, inputs []string) ([]completed, error) {
	jobs := make(chan string)
	results := make(chan result, s.r.Parallelism)
	var wg sync.WaitGroup
	for range min(s.r.Parallelism, max(len(inputs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for in := range jobs {
				meas, err := measureOnce(ctx, s.r.Measurer, in, s.r.Origin, s.reportID, s.r.Now)
				results <- result{input: in, meas: meas, err: err, at: s.r.Now(), cut: ctx.Err() != nil}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, in := range inputs {
			select {
			case jobs <- in:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	return s.collect(ctx, results)
}

type result struct {
	input string
	meas  *report.Measurement
	err   error
	at    time.Time
	cut   bool // the run was interrupted before this measurement finished
}

// collect drains results until the pool is done, always: returning early would
// leave workers blocked on a full channel.
func (s *state) collect(ctx context.Context, results <-chan result) ([]completed, error) {
	var held []completed
	var firstErr error
	lastConfirm := s.r.Now()
	for res := range results {
		s.r.Observer.Completed(res.input)
		if res.err != nil {
			if !res.cut && firstErr == nil {
				firstErr = fmt.Errorf("runner: input %q: %w: %w", res.input, ErrBadInput, res.err)
			}
			continue
		}
		if res.cut {
			continue // cut short by the interrupt: its failures are not the network's
		}
		held = append(held, completed{meas: res.meas, at: res.at})
		if s.r.Connectivity == nil {
			// No after-check will come: nothing to wait for.
			if err := s.finalizeAll(context.WithoutCancel(ctx), held, ""); err != nil && firstErr == nil {
				firstErr = err
			}
			held = held[:0]
			continue
		}
		if s.r.Network != nil && ctx.Err() == nil && s.r.Now().Sub(lastConfirm) >= s.r.ConfirmEvery {
			held, lastConfirm = s.confirm(ctx, held), s.r.Now()
		}
	}
	return held, firstErr
}

// confirm asks whether canaries answer now; if they do, every held result that
// finished before the question is final and saved with its own verdict.
func (s *state) confirm(ctx context.Context, held []completed) []completed {
	asked := s.r.Now()
	if !s.r.Network.CanariesUp(ctx) {
		s.r.Logger.Info("canaries silent: holding URL results for the after-check", "held", len(held))
		return held
	}
	var keep []completed
	var done []completed
	for _, c := range held {
		if c.at.After(asked) {
			keep = append(keep, c)
		} else {
			done = append(done, c)
		}
	}
	if err := s.finalizeAll(context.WithoutCancel(ctx), done, ""); err != nil {
		s.r.Logger.Error("cannot save measurements", "err", err)
	}
	return keep
}
