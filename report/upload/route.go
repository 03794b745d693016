package upload

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Route timeouts. A censor's black hole answers nothing, so without these a
// dead route would hold a batch for the whole DefaultRequestTimeout before the
// next route is tried.
const (
	// DefaultConnectTimeout bounds one TCP connect (to the collector, the front
	// or the proxy): Linux sends a SYN and retransmits it after 1 s and 3 s, so
	// 10 s covers three losses on a bad mobile link.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultHandshakeTimeout bounds the TLS handshake: one or two round trips,
	// with the same room for loss.
	DefaultHandshakeTimeout = 10 * time.Second
)

// Route is one way to reach a collector: directly, through a front (a CDN edge
// that forwards by Host, the way OONI falls back to a fronted name), through a
// proxy, or both.
type Route struct {
	// URL is the collector's base URL (http:// or https://). Its host is the
	// Host header of every request and, without Front, the name dialled and
	// sent as TLS SNI.
	URL string
	// Front, when set, is the host (or host:port) dialled and sent as SNI
	// instead of URL's host; the front's certificate is verified for it. Only
	// with an https:// URL.
	Front string
	// Proxy, when set, carries the connection: socks5h://HOST:PORT (Tor or any
	// SOCKS5 proxy; names are resolved by the proxy), socks5:// (the same in
	// this client) or http://HOST:PORT (an HTTP proxy, CONNECT for an https://
	// URL). user:password@ in the proxy URL is sent as its credentials.
	Proxy string
}

// String names the route for people and for RouteMemory: the URL, then
// " front F" and " proxy P" when set (a proxy's credentials are left out).
func (r Route) String() string {
	s := r.URL
	if r.Front != "" {
		s += " front " + r.Front
	}
	if r.Proxy != "" {
		s += " proxy " + r.RedactedProxy()
	}
	return s
}

// RedactedProxy is Proxy without its credentials.
func (r Route) RedactedProxy() string {
	if u, err := url.Parse(r.Proxy); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	return r.Proxy
}

// ErrBadRoute wraps every problem Validate finds.
var ErrBadRoute = errors.New("bad upload route")

// Validate checks the route's fields; the error names the field.
func (r Route) Validate() error {
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: url %q is not an http:// or https:// URL", ErrBadRoute, r.URL)
	}
	if r.Front != "" {
		if u.Scheme != "https" {
			return fmt.Errorf("%w: front %q needs an https:// url (fronting hides the name in TLS)", ErrBadRoute, r.Front)
		}
		if strings.ContainsAny(r.Front, "/@ ") || strings.HasPrefix(r.Front, ":") {
			return fmt.Errorf("%w: front %q is not a host or host:port", ErrBadRoute, r.Front)
		}
	}
	if r.Proxy != "" {
		p, err := url.Parse(r.Proxy)
		if err != nil || p.Host == "" || (p.Scheme != "socks5h" && p.Scheme != "socks5" && p.Scheme != "http") {
			return fmt.Errorf("%w: proxy %q is not a socks5h://, socks5:// or http:// proxy URL", ErrBadRoute, r.Proxy)
		}
	}
	return nil
}

// requestURL is where a request of this route goes: the collector's URL with
// the front as its host when fronted. The Host header stays the collector's.
func (r Route) requestURL(path string) (target, host string, err error) {
	u, err := url.Parse(strings.TrimSuffix(r.URL, "/") + path)
	if err != nil {
		return "", "", fmt.Errorf("upload: route %s: %w", r, err)
	}
	host = u.Host
	if r.Front != "" {
		u.Host = r.Front
	}
	return u.String(), host, nil
}

// transport builds the HTTP transport of a route: its own connection pool,
// bounded connect and handshake, the proxy when there is one.
func (c *Client) transport(r Route) (*http.Transport, error) {
	dial := c.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: DefaultConnectTimeout}).DialContext
	}
	base := &http.Transport{
		DialContext:         dial,
		TLSClientConfig:     c.TLS.Clone(),
		TLSHandshakeTimeout: DefaultHandshakeTimeout,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
	}
	if base.TLSClientConfig == nil {
		base.TLSClientConfig = &tls.Config{}
	}
	return withProxy(base, r)
}

// withProxy is base, cloned with the route's proxy when it has one.
func withProxy(base *http.Transport, r Route) (*http.Transport, error) {
	if r.Proxy == "" {
		return base, nil
	}
	p, err := url.Parse(r.Proxy)
	if err != nil {
		return nil, fmt.Errorf("upload: route %s: %w", r, err)
	}
	t := base.Clone()
	t.Proxy = http.ProxyURL(p)
	return t, nil
}

// RouteBase is the base URL to address a route with through a RouteTransport:
// the route's URL, with the front as its host when fronted.
func RouteBase(r Route) string {
	u, err := url.Parse(strings.TrimSuffix(r.URL, "/"))
	if err != nil || r.Front == "" {
		return strings.TrimSuffix(r.URL, "/")
	}
	u.Host = r.Front
	return u.String()
}

// RouteTransport carries each request over the route it is addressed to (by
// RouteBase): through the route's proxy, and for a fronted route with the
// route's own host as Host. Requests to other URLs use the base transport. It
// gives any HTTP client (the control helpers') the routes of the upload.
type RouteTransport struct {
	base   *http.Transport
	routes map[string]routeHop // scheme://host of RouteBase → hop
}

type routeHop struct {
	host string // Host header for a fronted route, "" otherwise
	rt   *http.Transport
}

var _ http.RoundTripper = (*RouteTransport)(nil)

// NewRouteTransport builds the transport of routes on base (its TLS roots,
// timeouts and pool settings; each proxied route gets a clone). Two routes
// addressed the same way are an error: a request could not tell them apart.
func NewRouteTransport(routes []Route, base *http.Transport) (*RouteTransport, error) {
	t := &RouteTransport{base: base, routes: map[string]routeHop{}}
	for _, r := range routes {
		if err := r.Validate(); err != nil {
			return nil, err
		}
		u, _ := url.Parse(RouteBase(r))
		key := u.Scheme + "://" + u.Host
		if _, dup := t.routes[key]; dup {
			return nil, fmt.Errorf("%w: two routes are addressed as %s (give them different fronts)", ErrBadRoute, key)
		}
		rt, err := withProxy(base, r)
		if err != nil {
			return nil, err
		}
		hop := routeHop{rt: rt}
		if r.Front != "" {
			orig, _ := url.Parse(r.URL)
			hop.host = orig.Host
		}
		t.routes[key] = hop
	}
	return t, nil
}

// RoundTrip sends req over its route.
func (t *RouteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	hop, ok := t.routes[req.URL.Scheme+"://"+req.URL.Host]
	if !ok {
		return t.base.RoundTrip(req)
	}
	if hop.host != "" {
		req = req.Clone(req.Context())
		req.Host = hop.host
	}
	return hop.rt.RoundTrip(req)
}

// httpClient returns the client of route i, built once per Client. Client.HTTP,
// when set, serves every route without a proxy.
func (c *Client) httpClient(i int) (*http.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.routes()[i]
	if c.HTTP != nil && r.Proxy == "" {
		return c.HTTP, nil
	}
	if c.clients == nil {
		c.clients = map[int]*http.Client{}
	}
	if hc, ok := c.clients[i]; ok {
		return hc, nil
	}
	t, err := c.transport(r)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: t, Timeout: DefaultRequestTimeout}
	c.clients[i] = hc
	return hc, nil
}

// routes is Routes, or the one route of Collector.
func (c *Client) routes() []Route {
	if len(c.Routes) > 0 {
		return c.Routes
	}
	return []Route{{URL: c.Collector}}
}
