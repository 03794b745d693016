package webconnectivity

import (
	"context"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/vantage-probe/vantage/probe/netx"
)

// tries runs a step up to n times and returns each try's failure ("" for success)
// in the order the tries started. Try i is due i × RetrySpacing after the first,
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
	return m.triesUntilAnswered(ctx, n, func(i int, _ func()) string { return step(i) })
}

// triesUntilAnswered is tries for a step that can tell when the peer answered
// (answered, safe to call any number of times): a try that got an answer is no
// longer waiting on a possible black hole but transferring, so no further try
// starts beside it; a due try waits until it ends. A slow page is thus never
// downloaded twice at once, which would also halve its measured throughput.
func (m *Measurer) triesUntilAnswered(ctx context.Context, n int, step func(i int, answered func()) string) Attempts {
	if n <= 0 {
		return nil
	}
	out := make(Attempts, n)
	ended := make(chan int, n)    // the index of each try that ended
	answered := make(chan int, n) // the index of each try whose peer answered
	var wg sync.WaitGroup
	defer wg.Wait()
	start := func(i int) {
		var once sync.Once
		wg.Go(func() {
			out[i] = step(i, func() { once.Do(func() { answered <- i }) })
			ended <- i
		})
	}
	done := make([]bool, n) // the try ended
	busy := make([]bool, n) // the try is running and its peer answered
	anyBusy := func() bool { return slices.Contains(busy, true) }
	start(0)
	started, running, succeeded, overdue := 1, 1, false, false
	spacing := time.NewTimer(m.cfg.RetrySpacing) // fires when the next try is due
	defer spacing.Stop()
	launch := func() {
		start(started)
		started++
		running++
		overdue = false
		spacing.Reset(m.cfg.RetrySpacing)
	}
	for running > 0 || (started < n && !succeeded) {
		var due <-chan time.Time
		if started < n && !succeeded && !overdue {
			due = spacing.C
		}
		select {
		case i := <-ended:
			running--
			done[i], busy[i] = true, false
			succeeded = succeeded || out[i] == ""
			if overdue && !succeeded && !anyBusy() {
				launch()
			}
		case i := <-answered:
			busy[i] = !done[i]
		case <-due:
			if anyBusy() {
				overdue = true // start it when the transferring try ends, if it fails
			} else {
				launch()
			}
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

// answeredConn calls answered when the first byte arrives from the peer.
type answeredConn struct {
	net.Conn
	answered func()
}

func (c *answeredConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.answered()
	}
	return n, err
}

// dialReportingAnswer wraps nc's dialer so that answered is called when any
// connection it opens receives its first byte.
func dialReportingAnswer(nc *netx.Client, answered func()) netx.DialFunc {
	dial := nc.Dialer()
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := dial(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return &answeredConn{Conn: c, answered: answered}, nil
	}
}
