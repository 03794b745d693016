// Package hostile runs loopback servers that attack the client talking to them: an
// endless or huge body, a gzip bomb, headers that never end, a slowloris that sends
// a byte at a time, a TLS server that stalls mid-handshake, DNS servers answering with
// oversized, malformed, enormous or flooding replies, redirect loops and invalid
// UTF-8. The tests of this package point the probe's primitives (package netx) at
// them and check that every measurement ends within its timeouts and memory caps with
// a classified failure; other packages may reuse the servers.
//
// Every server listens on 127.0.0.1 only and stops, with all its goroutines, when the
// test ends.
package hostile

import (
	"net"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// acceptLoop runs serve on every connection ln accepts (netxtest.Serve) and closes
// each connection when serve returns: a hostile server's attack ends with serve.
func acceptLoop(t testing.TB, ln net.Listener, serve func(c net.Conn, done <-chan struct{})) {
	netxtest.Serve(t, ln, func(c net.Conn, done <-chan struct{}) {
		defer c.Close()
		serve(c, done)
	})
}

// listenTCP listens on a free loopback port.
func listenTCP(t testing.TB) net.Listener { return netxtest.ListenTCP(t) }

// sleep waits for d and reports false when done closed first.
func sleep(d time.Duration, done <-chan struct{}) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-done:
		return false
	}
}
