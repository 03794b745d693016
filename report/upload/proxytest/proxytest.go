// Package proxytest runs small SOCKS5 (RFC 1928, CONNECT, no authentication) and
// HTTP CONNECT proxies on a listener the caller provides, so that upload routes
// through a proxy can be tested on loopback and inside the lab.
package proxytest

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// handshakeTimeout bounds a client's SOCKS greeting or CONNECT request, so that
// a stuck client cannot hold a goroutine past the proxy's life.
const handshakeTimeout = 10 * time.Second

// DialFunc opens the proxy's upstream connection (a namespace's dialer in the lab).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Proxy is a running proxy. Its methods are safe for concurrent use.
type Proxy struct {
	ln    net.Listener
	dial  DialFunc
	socks bool

	mu      sync.Mutex
	conns   map[net.Conn]bool
	targets []string
	closed  bool
	wg      sync.WaitGroup
}

// ServeSOCKS5 serves SOCKS5 on ln until Close. dial nil uses a net.Dialer.
func ServeSOCKS5(ln net.Listener, dial DialFunc) *Proxy { return serve(ln, dial, true) }

// ServeCONNECT serves HTTP CONNECT on ln until Close. dial nil uses a net.Dialer.
func ServeCONNECT(ln net.Listener, dial DialFunc) *Proxy { return serve(ln, dial, false) }

func serve(ln net.Listener, dial DialFunc, socks bool) *Proxy {
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	}
	p := &Proxy{ln: ln, dial: dial, socks: socks, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	return p
}

// Addr is the proxy's listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Targets returns every host:port clients asked for, in order.
func (p *Proxy) Targets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

// Close stops accepting, cuts every relayed connection and waits for them.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			p.handle(c)
		}()
	}
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) handle(c net.Conn) {
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	br := bufio.NewReader(c)
	var target string
	var err error
	if p.socks {
		target, err = socksRequest(br, c)
	} else {
		target, err = connectRequest(br)
	}
	if err != nil {
		return
	}
	p.mu.Lock()
	p.targets = append(p.targets, target)
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	up, err := p.dial(ctx, "tcp", target)
	cancel()
	if err != nil {
		if p.socks {
			c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}) // connection refused
		} else {
			io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		}
		return
	}
	if !p.track(up) {
		up.Close()
		return
	}
	defer p.untrack(up)
	if p.socks {
		_, err = c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	} else {
		_, err = io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	}
	if err != nil {
		return
	}
	c.SetDeadline(time.Time{})
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, br); up.Close(); done <- struct{}{} }()
	go func() { io.Copy(c, up); c.Close(); done <- struct{}{} }()
	<-done
	<-done
}

var errSOCKS = errors.New("proxytest: bad SOCKS5 request")

// socksRequest reads the greeting (no authentication accepted) and the CONNECT
// request and returns its host:port; names are kept as names (socks5h).
func socksRequest(br *bufio.Reader, w io.Writer) (string, error) {
	head := make([]byte, 2)
	if _, err := io.ReadFull(br, head); err != nil || head[0] != 5 {
		return "", errSOCKS
	}
	methods := make([]byte, head[1])
	if _, err := io.ReadFull(br, methods); err != nil {
		return "", errSOCKS
	}
	if _, err := w.Write([]byte{5, 0}); err != nil {
		return "", err
	}
	req := make([]byte, 4)
	if _, err := io.ReadFull(br, req); err != nil || req[0] != 5 || req[1] != 1 {
		return "", errSOCKS
	}
	var host string
	switch req[3] {
	case 1, 4:
		ip := make([]byte, map[byte]int{1: 4, 4: 16}[req[3]])
		if _, err := io.ReadFull(br, ip); err != nil {
			return "", errSOCKS
		}
		host = net.IP(ip).String()
	case 3:
		n, err := br.ReadByte()
		if err != nil {
			return "", errSOCKS
		}
		name := make([]byte, n)
		if _, err := io.ReadFull(br, name); err != nil {
			return "", errSOCKS
		}
		host = string(name)
	default:
		return "", errSOCKS
	}
	port := make([]byte, 2)
	if _, err := io.ReadFull(br, port); err != nil {
		return "", errSOCKS
	}
	return net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port)))), nil
}

// connectRequest reads an HTTP CONNECT request and returns its authority.
func connectRequest(br *bufio.Reader) (string, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return "", err
	}
	if req.Method != http.MethodConnect || req.Host == "" {
		return "", fmt.Errorf("proxytest: %s is not CONNECT", req.Method)
	}
	return req.Host, nil
}
