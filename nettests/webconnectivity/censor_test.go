package webconnectivity

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// censorMode is what the test censor does to a connection whose first bytes carry
// the trigger (the target's SNI).
type censorMode int

const (
	censorReset       censorMode = iota // RST, as a DPI box that resets on SNI
	censorDrop                          // swallow everything: the handshake times out
	censorResetOdd                      // reset every other triggering connection: intermittent
	censorPassThrough                   // forward everything
)

// newCensor starts a loopback TCP proxy to upstream that applies mode to the
// connections whose first read contains trigger and forwards the others. It stands
// on the probe's path only: the probe's dialer is pointed at it, the helper is not.
func newCensor(t *testing.T, upstream string, trigger []byte, mode censorMode) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var conns sync.Map
	var count atomic.Int64
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			wg.Go(func() {
				defer conns.Delete(c)
				defer c.Close()
				censorConn(c, upstream, trigger, mode, &count)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	return ln.Addr().String()
}

func censorConn(c net.Conn, upstream string, trigger []byte, mode censorMode, count *atomic.Int64) {
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if bytes.Contains(buf[:n], trigger) {
		switch {
		case mode == censorReset, mode == censorResetOdd && count.Add(1)%2 == 1:
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			return
		case mode == censorDrop:
			_, _ = io.Copy(io.Discard, c)
			return
		}
	}
	var d net.Dialer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	up, err := d.DialContext(ctx, "tcp", upstream)
	cancel()
	if err != nil {
		return
	}
	defer up.Close()
	if _, err := up.Write(buf[:n]); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(c, up)
		c.Close()
		close(done)
	}()
	_, _ = io.Copy(up, c)
	up.Close()
	<-done
}
