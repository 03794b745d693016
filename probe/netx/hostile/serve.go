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
	"sync"
	"testing"
	"time"
)

// acceptLoop runs serve on every connection ln accepts until ln is closed. done is
// closed at cleanup so that a server sleeping between writes gives up; cleanup then
// closes ln and every open connection and waits for every goroutine it started.
func acceptLoop(t testing.TB, ln net.Listener, serve func(c net.Conn, done <-chan struct{})) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c, done)
			}()
		}
	}()
	t.Cleanup(func() {
		close(done)
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// listenTCP listens on a free loopback port.
func listenTCP(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("hostile: listen tcp: %v", err)
	}
	return ln
}

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
