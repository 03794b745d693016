package netx

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/http2"
)

// hopResult is one round trip of a Fetch.
type hopResult struct {
	event     RequestEvent
	status    int
	location  string
	body      []byte
	truncated bool
	tls       *TLSHandshakeEvent
	err       error
}

// hopConn is an open connection ready for one request.
type hopConn struct {
	address, alpn string
	txID          int64
	tls           *TLSHandshakeEvent
	roundTrip     func(*http.Request) (*http.Response, error)
	// raw is the TCP-level conn whose deadline the phase guard moves; nil for QUIC,
	// where cancelling the request's context is enough.
	raw   net.Conn
	close func()
}

// fetchOnce performs one hop: resolve (unless pinned), connect, handshake, send the
// GET, read the headers and the body, each phase under its own timeout.
func (c *Client) fetchOnce(ctx context.Context, trace *Trace, u *url.URL, pinned string, opts FetchOptions) (out hopResult) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := newRequest(ctx, u, opts.Header)
	if err != nil {
		return hopResult{err: Wrap("http_round_trip", err)}
	}
	transport, network := transportOf(opts.HTTP3)
	out = hopResult{event: RequestEvent{
		Network:  network,
		Request:  requestRecord(req, transport),
		Response: emptyResponse(),
		T0:       trace.Elapsed(),
		Tags:     c.tags(),
	}}
	defer func() {
		out.event.T = trace.Elapsed()
		out.event.Failure = FailureOf(out.err)
		trace.AddRequest(out.event)
	}()

	hc, tried, err := c.openHop(ctx, trace, u, pinned, opts)
	if err != nil {
		out.err = err
		out.event.Address = tried
		if hc != nil && hc.tls != nil { // a handshake that failed or did not verify
			out.tls = hc.tls
			out.event.TransactionID = hc.tls.TransactionID
		} else {
			out.event.TransactionID = trace.NewTransactionID()
		}
		return out
	}
	defer hc.close()
	out.tls = hc.tls
	out.event.Address, out.event.ALPN, out.event.TransactionID = hc.address, hc.alpn, hc.txID
	c.exchange(ctx, cancel, req, hc, opts, &out)
	return out
}

// exchange sends the request on hc and reads the response into out.
func (c *Client) exchange(ctx context.Context, cancel context.CancelFunc, req *http.Request, hc *hopConn, opts FetchOptions, out *hopResult) {
	guard := newPhaseGuard(ctx, cancel, hc.raw)
	defer guard.release()

	guard.start(opts.HeaderTimeout)
	resp, err := hc.roundTrip(req)
	guard.stop()
	if err != nil {
		out.err = guard.classify("http_round_trip", err)
		return
	}
	if resp.Body == nil { // QUIRK: a RoundTripper may omit it; treat as empty
		resp.Body = http.NoBody
	}
	defer func() {
		// QUIRK: net/http's Close of an HTTP/1.1 body reads it to the end, and this
		// hop's connection is never reused: expire the connection first, so that an
		// endless or huge body is not drained after the cap (probe/netx/hostile).
		if hc.raw != nil {
			_ = hc.raw.SetDeadline(time.Unix(1, 0))
		}
		resp.Body.Close()
	}()
	out.status = resp.StatusCode
	out.location = resp.Header.Get("Location")

	pace := startBodyPace(cancel, hc.raw, opts)
	resp.Body = pace.wrap(resp.Body)
	body, truncated, err := readBody(resp, opts.MaxBodyBytes)
	stopped, err := pace.finish(err)
	out.body, out.truncated = body, truncated || stopped == BodyStoppedBudget
	out.event.Response = responseRecord(resp, body, out.truncated)
	out.event.Response.XBodyStopped = stopped
	out.event.Response.XBodyBytes = pace.bytes.Load()
	out.event.Response.XBodySeconds = pace.elapsed.Seconds()
	if err != nil {
		out.err = guard.classify("read", err)
	}
}

// openHop connects for one hop, trying each address in turn until one works. When
// none does it returns the last address tried and its classified error, with a
// hopConn holding only the handshake event when a handshake failed.
func (c *Client) openHop(ctx context.Context, trace *Trace, u *url.URL, pinned string, opts FetchOptions) (*hopConn, string, error) {
	addrs, err := hopAddresses(ctx, trace, u, pinned, opts)
	if err != nil {
		return nil, "", err
	}
	if len(addrs) == 0 {
		return nil, "", Wrap("resolve", ErrDNSNoAnswer)
	}
	var (
		last string
		hc   *hopConn
	)
	for _, addr := range addrs {
		if opts.HTTP3 {
			hc, err = c.openQUIC(ctx, trace, u, addr, opts)
		} else {
			hc, err = c.openTCP(ctx, trace, u, addr, opts)
		}
		if err == nil {
			return hc, addr, nil
		}
		last = addr
	}
	return hc, last, err
}

// openTCP connects, handshakes TLS for https, and picks HTTP/2 or HTTP/1.1 by ALPN.
func (c *Client) openTCP(ctx context.Context, trace *Trace, u *url.URL, addr string, opts FetchOptions) (*hopConn, error) {
	step := *c
	step.Timeout = opts.ConnectTimeout
	conn, err := step.DialTCP(ctx, trace, addr)
	if err != nil {
		return nil, err
	}
	hc := &hopConn{address: addr, txID: TransactionIDOf(conn), raw: conn}
	if u.Scheme == "http" {
		hc.roundTrip, hc.close = http1RoundTripper(conn)
		return hc, nil
	}
	step.Timeout = opts.TLSTimeout
	tlsConn, ev, err := step.HandshakeTLS(ctx, trace, conn, sniOf(u), []string{"h2", "http/1.1"})
	if err != nil {
		return &hopConn{tls: ev}, err
	}
	hc.tls, hc.alpn = ev, ev.NegotiatedProtocol
	if hc.alpn != "h2" {
		hc.roundTrip, hc.close = http1RoundTripper(tlsConn)
		return hc, nil
	}
	t2 := &http2.Transport{DisableCompression: true, MaxHeaderListSize: DefaultMaxHeaderBytes}
	cc, err := t2.NewClientConn(tlsConn)
	if err != nil {
		tlsConn.Close()
		return nil, Wrap("http_round_trip", err)
	}
	hc.roundTrip = cc.RoundTrip
	hc.close = func() { cc.Close(); tlsConn.Close() }
	return hc, nil
}

// sniOf is the server name a hop sends: the URL's host, or none for an IP literal
// (RFC 6066, section 3, forbids IP literals in SNI; the chain is then verified for
// the peer's IP).
func sniOf(u *url.URL) string {
	if net.ParseIP(u.Hostname()) != nil {
		return ""
	}
	return u.Hostname()
}

// http1RoundTripper writes one HTTP/1.1 request on conn and parses the response.
// net/http's Transport is not used because it would dial by itself; this keeps
// every byte on the measured conn. The header section is capped at
// DefaultMaxHeaderBytes: net/http's parser itself would read an endless header
// line into memory.
func http1RoundTripper(conn net.Conn) (func(*http.Request) (*http.Response, error), func()) {
	limit := &headerLimiter{r: conn, remaining: DefaultMaxHeaderBytes}
	br := bufio.NewReader(limit)
	rt := func(req *http.Request) (*http.Response, error) {
		if err := req.Write(conn); err != nil {
			return nil, err
		}
		resp, err := http.ReadResponse(br, req)
		limit.lift()
		return resp, err
	}
	return rt, func() { conn.Close() }
}

// errHeadersTooLarge is returned when a response's headers exceed the cap.
var errHeadersTooLarge = errors.New("netx: response headers larger than the cap")

// headerLimiter lets at most remaining bytes through until lift is called: the
// header section's cap (plus what bufio read ahead of the body, which only makes
// the cap a little stricter).
type headerLimiter struct {
	r         io.Reader
	remaining int64
	lifted    atomic.Bool
}

func (l *headerLimiter) Read(p []byte) (int, error) {
	if l.lifted.Load() {
		return l.r.Read(p)
	}
	if l.remaining <= 0 {
		return 0, errHeadersTooLarge
	}
	if int64(len(p)) > l.remaining {
		p = p[:l.remaining]
	}
	n, err := l.r.Read(p)
	l.remaining -= int64(n)
	return n, err
}

func (l *headerLimiter) lift() { l.lifted.Store(true) }

// openQUIC handshakes QUIC with ALPN h3 and opens an HTTP/3 client connection.
func (c *Client) openQUIC(ctx context.Context, trace *Trace, u *url.URL, addr string, opts FetchOptions) (*hopConn, error) {
	step := *c
	step.Timeout = opts.TLSTimeout
	qconn, ev, err := step.HandshakeQUIC(ctx, trace, addr, sniOf(u), []string{"h3"})
	if err != nil {
		return &hopConn{tls: ev}, err
	}
	t3 := &http3.Transport{DisableCompression: true, MaxResponseHeaderBytes: DefaultMaxHeaderBytes}
	cc := t3.NewClientConn(qconn)
	return &hopConn{
		address:   addr,
		alpn:      ev.NegotiatedProtocol,
		txID:      ev.TransactionID,
		tls:       ev,
		roundTrip: cc.RoundTrip,
		close:     func() { qconn.CloseWithError(0, "") },
	}, nil
}

// phaseGuard bounds one phase of a round trip. When the phase's timer fires it
// cancels the request's context and, for TCP, moves the conn's deadline into the
// past so that a blocked read returns at once; classify then reports the phase as a
// generic_timeout_error whatever error the library returned on the way out.
type phaseGuard struct {
	cancel    context.CancelFunc
	raw       net.Conn
	timer     *time.Timer
	fired     atomic.Bool
	stopAfter func() bool
}

func newPhaseGuard(ctx context.Context, cancel context.CancelFunc, raw net.Conn) *phaseGuard {
	g := &phaseGuard{cancel: cancel, raw: raw}
	if raw != nil {
		// A cancelled parent (the caller's deadline) must also unblock reads.
		g.stopAfter = context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	}
	return g
}

func (g *phaseGuard) start(d time.Duration) {
	g.timer = time.AfterFunc(d, func() {
		g.fired.Store(true)
		g.cancel()
	})
}

func (g *phaseGuard) stop() {
	if g.timer != nil {
		g.timer.Stop()
	}
}

func (g *phaseGuard) release() {
	g.stop()
	if g.stopAfter != nil {
		g.stopAfter()
	}
}

// classify reports a timed-out phase as generic_timeout_error. Otherwise an error no
// rule knows, raised while reading a response, is the parser rejecting what the
// server sent (bad lengths, bad header lines, oversized headers, protocol errors):
// http_invalid_response, the original kept for Unwrap.
func (g *phaseGuard) classify(op string, err error) error {
	if g.fired.Load() {
		return &Error{Failure: FailureGenericTimeout, Operation: op, Err: err}
	}
	if errors.Is(err, errHeadersTooLarge) || strings.HasPrefix(Classify(err), FailureUnknownPrefix) {
		return &Error{Failure: FailureHTTPInvalidResponse, Operation: op, Err: err}
	}
	return Wrap(op, err)
}
