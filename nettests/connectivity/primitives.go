package connectivity

import (
	"context"
	"net/netip"
	"time"

	"github.com/vantage-probe/vantage/probe/netx"
)

// lookupFunc resolves host with the configured resolver, recording queries on trace.
type lookupFunc func(ctx context.Context, trace *netx.Trace, host string) ([]string, error)

// httpFunc GETs rawURL with its first hop pinned to address (an IP:port), follows
// no redirect, and returns the response's status code (netx.Client.Fetch).
type httpFunc func(ctx context.Context, trace *netx.Trace, rawURL, address string) (int, error)

// primitives are the network primitives the test measures with. netxPrimitives wires them to
// probe/netx; tests put fakes in.
type primitives struct {
	Lookup        lookupFunc
	DialTCP       netx.ConnectFunc
	HandshakeTLS  netx.TLSHandshakeFunc // a completed handshake whose chain does not verify returns the event, no failure, and an ssl_* error
	HandshakeQUIC netx.QUICHandshakeFunc
	FetchHTTP     httpFunc
}

// netxPrimitives returns the netx primitives for cfg, each step bounded by timeout.
func netxPrimitives(cfg *netx.Client, timeout time.Duration) primitives {
	c := netx.Client{}
	if cfg != nil {
		c = *cfg
	}
	c.Timeout = timeout
	resolver := c.Resolver
	if resolver == "" {
		resolver = "system"
	}
	return primitives{
		Lookup: func(ctx context.Context, trace *netx.Trace, host string) ([]string, error) {
			res, err := c.Lookup(ctx, trace, resolver, host)
			if err != nil {
				return nil, err
			}
			return res.Addrs, nil
		},
		DialTCP:       c.DialTCP,
		HandshakeTLS:  c.HandshakeTLS,
		HandshakeQUIC: c.HandshakeQUIC,
		FetchHTTP: func(ctx context.Context, trace *netx.Trace, rawURL, address string) (int, error) {
			res, err := c.Fetch(ctx, trace, rawURL, netx.FetchOptions{
				Address: address, MaxRedirects: -1, MaxBodyBytes: 1,
				ConnectTimeout: timeout, HeaderTimeout: timeout, TotalTimeout: timeout,
			})
			if res != nil && res.Final != nil && res.Final.Response.Code > 0 {
				return int(res.Final.Response.Code), nil // the status line came: the rest is the site's
			}
			return 0, err
		},
	}
}

// orNetx fills the primitives p lacks with netx's defaults, so that a partly
// filled primitives never calls a nil func.
func (p primitives) orNetx(timeout time.Duration) primitives {
	d := netxPrimitives(nil, timeout)
	if p.Lookup == nil {
		p.Lookup = d.Lookup
	}
	if p.DialTCP == nil {
		p.DialTCP = d.DialTCP
	}
	if p.HandshakeTLS == nil {
		p.HandshakeTLS = d.HandshakeTLS
	}
	if p.HandshakeQUIC == nil {
		p.HandshakeQUIC = d.HandshakeQUIC
	}
	if p.FetchHTTP == nil {
		p.FetchHTTP = d.FetchHTTP
	}
	return p
}

// tlsALPN is offered on TLS canary handshakes, as a browser would.
var tlsALPN = []string{"h2", "http/1.1"}

// attempt runs one probe of proto against address for canary c (its SNI, or its
// URL for HTTP); it reports whether the canary answered on that protocol. A
// completed handshake counts even when the chain does not verify: packets flowed
// both ways, which is all reachability asks (an IP literal without SNI never
// verifies, and interception is web_connectivity's business). For the same reason
// any HTTP status line counts.
func (p primitives) attempt(ctx context.Context, trace *netx.Trace, proto, address string, c Canary) (bool, error) {
	sni := c.SNI
	switch proto {
	case ProtoHTTP:
		_, err := p.FetchHTTP(ctx, trace, c.HTTPURL(), address)
		return err == nil, err
	case ProtoTCP:
		conn, err := p.DialTCP(ctx, trace, address)
		if err != nil {
			return false, err
		}
		conn.Close()
		return true, nil
	case ProtoTLS:
		conn, err := p.DialTCP(ctx, trace, address)
		if err != nil {
			return false, err
		}
		tconn, ev, err := p.HandshakeTLS(ctx, trace, conn, sni, tlsALPN)
		if tconn != nil {
			tconn.Close()
		}
		return handshakeCompleted(ev, err), err
	case ProtoQUIC:
		qconn, ev, err := p.HandshakeQUIC(ctx, trace, address, sni, nil)
		if qconn != nil {
			qconn.CloseWithError(0, "")
		}
		return handshakeCompleted(ev, err), err
	}
	return false, nil
}

func handshakeCompleted(ev *netx.TLSHandshakeEvent, err error) bool {
	return err == nil || ev != nil && ev.Failure == nil
}

// pickAddress chooses the address to probe among a lookup's answers: IPv4 first,
// since an IPv6 answer on a network without IPv6 would read as a failure that is
// not the network's.
func pickAddress(addrs []string) string {
	for _, a := range addrs {
		if ip, err := netip.ParseAddr(a); err == nil && ip.Unmap().Is4() {
			return ip.Unmap().String()
		}
	}
	for _, a := range addrs {
		if ip, err := netip.ParseAddr(a); err == nil {
			return ip.String()
		}
	}
	return ""
}
