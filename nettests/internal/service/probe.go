package service

import (
	"context"
	"crypto/x509"
	"net"
	"net/url"
	"strconv"

	"github.com/vantage-probe/vantage/probe/netx"
)

// MaxAddresses bounds how many resolved addresses of one endpoint are tried: a
// server pool behind one name is one endpoint, not a scan.
const MaxAddresses = 2

// Observation is what measuring one endpoint saw: the failure of the step that
// failed (nil on success) and that step's name, as netx classifies them.
type Observation struct {
	Addrs     []string // the addresses tried, resolved or pinned
	Failure   *string
	Operation string // resolve, connect, tls_handshake, http_round_trip, read
	Status    int    // HTTP status of a fetch; 0 when none came back
}

// OK reports whether every step succeeded.
func (o Observation) OK() bool { return o.Failure == nil }

func observe(addrs []string, err error) Observation {
	o := Observation{Addrs: addrs, Failure: netx.FailureOf(err)}
	if err != nil {
		o.Operation = netx.OperationOf(err)
	}
	return o
}

// addresses resolves t.Host unless t pins an address or Host is an IP literal.
func addresses(ctx context.Context, nc *netx.Client, trace *netx.Trace, t Target) ([]string, error) {
	if h := t.dialHost(); net.ParseIP(h) != nil {
		return []string{h}, nil
	}
	res, err := nc.Lookup(ctx, trace, nc.Resolver, t.Host)
	if err != nil {
		return nil, err
	}
	if len(res.Addrs) == 0 {
		return nil, netx.Wrap("resolve", netx.ErrDNSNoAnswer)
	}
	if len(res.Addrs) > MaxAddresses {
		return res.Addrs[:MaxAddresses], nil
	}
	return res.Addrs, nil
}

// Connect opens (and closes) a TCP connection to t, trying its addresses in turn
// until one answers.
func Connect(ctx context.Context, nc *netx.Client, trace *netx.Trace, t Target) Observation {
	addrs, err := addresses(ctx, nc, trace, t)
	if err != nil {
		return observe(nil, err)
	}
	for _, a := range addrs {
		var conn net.Conn
		conn, err = nc.DialTCP(ctx, trace, net.JoinHostPort(a, strconv.Itoa(t.Port)))
		if err == nil {
			conn.Close()
			break
		}
	}
	return observe(addrs, err)
}

// Handshake connects to t's first address and runs a TLS handshake for t.Host
// (the observation keeps every address resolved),
// verifying the chain against roots (nil: the Config's roots). A chain that does
// not verify is a tls_handshake failure (ssl_unknown_authority, ...).
func Handshake(ctx context.Context, nc *netx.Client, trace *netx.Trace, t Target, roots *x509.CertPool, alpn []string) Observation {
	addrs, err := addresses(ctx, nc, trace, t)
	if err != nil {
		return observe(nil, err)
	}
	conn, err := nc.DialTCP(ctx, trace, net.JoinHostPort(addrs[0], strconv.Itoa(t.Port)))
	if err != nil {
		return observe(addrs, err)
	}
	c := withRoots(nc, roots)
	sni := t.Host
	if net.ParseIP(sni) != nil {
		sni = ""
	}
	tconn, _, err := c.HandshakeTLS(ctx, trace, conn, sni, alpn)
	if tconn != nil {
		tconn.Close()
	}
	return observe(addrs, err)
}

// HandshakeUnverified is Handshake for servers whose chain is not meant to verify
// (a Tor relay's self-signed link certificate): a completed handshake is success.
func HandshakeUnverified(ctx context.Context, nc *netx.Client, trace *netx.Trace, t Target) Observation {
	o := Handshake(ctx, nc, trace, t, nil, nil)
	if o.Operation == "tls_handshake" && isVerifyFailure(*o.Failure) {
		return Observation{Addrs: o.Addrs}
	}
	return o
}

// Resolve only looks t up (or takes its pinned address).
func Resolve(ctx context.Context, nc *netx.Client, trace *netx.Trace, t Target) Observation {
	return observe(addresses(ctx, nc, trace, t))
}

// Fetch GETs scheme://t.Host:t.Port/t.Path, through t.Addr when pinned, following
// no redirect: any HTTP response is the endpoint answering. roots replace the
// Config's when not nil.
func Fetch(ctx context.Context, nc *netx.Client, trace *netx.Trace, t Target, scheme string, roots *x509.CertPool) Observation {
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(t.Host, strconv.Itoa(t.Port)), Path: t.Path}
	if u.Path == "" {
		u.Path = "/"
	}
	// Every phase waits one step: an endpoint that accepted the connection and
	// never answers is as blocked after one step as after netx's page-sized waits.
	step := nc.StepTimeout()
	opts := netx.FetchOptions{MaxRedirects: -1, MaxBodyBytes: 64 << 10, HeaderTimeout: step, BodyTimeout: step, TotalTimeout: 4 * step}
	if t.Addr != "" {
		opts.Address = net.JoinHostPort(t.Addr, strconv.Itoa(t.Port))
	}
	res, err := withRoots(nc, roots).Fetch(ctx, trace, u.String(), opts)
	o := observe(nil, err)
	if opts.Address != "" {
		o.Addrs = []string{t.Addr}
	}
	if res != nil && res.Final != nil && res.Final.Response.Code > 0 && err == nil {
		o.Status = int(res.Final.Response.Code)
	}
	return o
}

func withRoots(nc *netx.Client, roots *x509.CertPool) *netx.Client {
	if roots == nil {
		return nc
	}
	c := *nc
	c.Roots = roots
	return &c
}

func isVerifyFailure(f string) bool {
	switch f {
	case netx.FailureSSLUnknownAuthority, netx.FailureSSLInvalidHostname, netx.FailureSSLInvalidCertificate:
		return true
	}
	return false
}
