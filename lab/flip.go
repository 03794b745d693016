//go:build linux

package lab

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// flipChain is the router chain the flipper fills and empties.
const flipChain = "LABFLIP"

// minFlipPeriod keeps the flipper from spinning on a typo'd scenario.
const minFlipPeriod = 100 * time.Millisecond

// flip turns a full shutdown on and off on a schedule, for the whole run: the
// curfew-like rhythm of Kazakhstan in January 2022 (hours on, hours off, here
// compressed to seconds). The network starts up.
func flip(ctx context.Context, l *Lab, b Block) error {
	on := time.Duration(b.On * float64(time.Second))
	off := time.Duration(b.Off * float64(time.Second))
	if on < minFlipPeriod || off < minFlipPeriod {
		return fmt.Errorf("lab: flip: on and off must be at least %v", minFlipPeriod)
	}
	if err := l.iptables(ctx, "-N", flipChain); err != nil {
		return err
	}
	if err := l.iptables(ctx, "-I", "FORWARD", "1", "-j", flipChain); err != nil {
		return err
	}
	f := &flipper{lab: l, on: on, off: off, firstOn: on, stop: make(chan struct{})}
	if b.FirstOn > 0 {
		f.firstOn = time.Duration(b.FirstOn * float64(time.Second))
	}
	f.wg.Add(1)
	go f.loop()
	l.onClose(f.Close)
	return nil
}

// flipper owns the goroutine that toggles the chain.
type flipper struct {
	lab     *Lab
	on, off time.Duration
	firstOn time.Duration
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

func (f *flipper) loop() {
	defer f.wg.Done()
	down, first := false, true
	for {
		wait := f.on
		if down {
			wait = f.off
		}
		if first {
			wait, first = f.firstOn, false
		}
		t := time.NewTimer(wait)
		select {
		case <-f.stop:
			t.Stop()
			return
		case <-t.C:
		}
		down = !down
		// Errors are ignored on purpose: a failed toggle only lengthens the
		// current phase, and the namespace may be going away.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if down {
			_ = f.lab.iptables(ctx, "-A", flipChain, "-j", "DROP")
		} else {
			_ = f.lab.iptables(ctx, "-F", flipChain)
		}
		cancel()
	}
}

// Close stops the flipper and waits for it.
func (f *flipper) Close() error {
	f.once.Do(func() { close(f.stop) })
	f.wg.Wait()
	return nil
}
