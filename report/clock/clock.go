// Package clock holds the time helper the probe and the collector's clients share:
// a sleep that ends early when its context does.
package clock

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends, whichever comes first; it returns ctx.Err()
// when ctx ended first (or had ended already), nil otherwise. A d of zero or less
// does not wait.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
