package thserver

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
	"github.com/vantage-probe/vantage/probe/netx"
)

// forwardedHeaders are the probe headers the control fetch copies, as OONI's helper
// does, so the site answers the control as it answers the probe.
var forwardedHeaders = []string{"Accept", "Accept-Language", "User-Agent"}

// defaultUserAgent is sent when the probe names none: a common browser's, since some
// sites answer non-browsers differently.
const defaultUserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"

// fetchClient returns a client for one fetch (its own connections, cookies and
// redirect budget, dialling through the guard) and the func that releases it.
func (s *Server) fetchClient(h3 bool) (*http.Client, func()) {
	var rt http.RoundTripper
	var release func()
	if h3 {
		// Headers are capped as the probe caps them (netx.DefaultMaxHeaderBytes), not
		// at the libraries' 10 MiB: memory per request stays near the body cap.
		tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: s.cfg.Roots}, Dial: s.dialQUIC, MaxResponseHeaderBytes: netx.DefaultMaxHeaderBytes}
		rt, release = tr, func() { _ = tr.Close() }
	} else {
		tr := &http.Transport{DialContext: s.dialContext, TLSClientConfig: &tls.Config{RootCAs: s.cfg.Roots}, ForceAttemptHTTP2: true,
			MaxResponseHeaderBytes: netx.DefaultMaxHeaderBytes}
		rt, release = tr, tr.CloseIdleConnections
	}
	jar, _ := cookiejar.New(nil) // cookiejar.New never fails without options
	client := &http.Client{Transport: rt, Jar: jar, CheckRedirect: func(_ *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return netx.ErrTooManyRedirects
		}
		return nil
	}}
	return client, release
}

// fetch GETs the URL, following redirects, over TCP or (h3) HTTP/3.
func (s *Server) fetch(ctx context.Context, t *target, headers map[string][]string, h3 bool) thproto.HTTPResult {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.FetchTimeout)
	defer cancel()
	failed := func(err error) thproto.HTTPResult {
		return thproto.HTTPResult{BodyLength: -1, StatusCode: -1, Failure: netx.FailureOf(netx.Wrap("http_round_trip", err)), Headers: map[string]string{}}
	}
	client, closeClient := s.fetchClient(h3)
	defer closeClient()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url.String(), nil)
	if err != nil {
		return failed(err)
	}
	req.Header.Set("User-Agent", defaultUserAgent)
	for _, k := range forwardedHeaders {
		for _, v := range headers[k] {
			req.Header.Set(k, v)
		}
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return failed(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return failed(err)
	}
	sum := sha256.Sum256(body)
	out := thproto.HTTPResult{
		BodyLength:    int64(len(body)),
		StatusCode:    int64(resp.StatusCode),
		Title:         netx.Title(body),
		Headers:       map[string]string{},
		XBodySHA256:   hex.EncodeToString(sum[:]),
		XFinalURL:     resp.Request.URL.String(),
		XFetchSeconds: time.Since(start).Seconds(),
	}
	for k, vs := range resp.Header {
		out.Headers[k] = vs[0]
	}
	if p := h3Port(resp.Header.Values("Alt-Svc")); p != "" {
		out.DiscoveredH3Endpoint = net.JoinHostPort(resp.Request.URL.Hostname(), p)
	}
	return out
}

// h3Port returns the port of an h3 alternative in Alt-Svc values (RFC 7838).
func h3Port(values []string) string {
	for _, v := range values {
		for _, alt := range strings.Split(v, ",") {
			rest, ok := strings.CutPrefix(strings.TrimSpace(alt), "h3=")
			if !ok {
				continue
			}
			authority := strings.Trim(strings.SplitN(rest, ";", 2)[0], `"`)
			if _, p, err := net.SplitHostPort(authority); err == nil && p != "" {
				return p
			}
		}
	}
	return ""
}

// dialQUIC is http3.Transport's dialer: resolved by the helper, guarded.
func (s *Server) dialQUIC(ctx context.Context, addr string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	addrs := []string{host}
	if _, err := netip.ParseAddr(host); err != nil {
		if addrs, err = s.cfg.Lookup(ctx, host); err != nil {
			return nil, err
		}
	}
	for _, a := range addrs {
		if ip, err := netip.ParseAddr(a); err == nil && s.allowed(ip) {
			return quic.DialAddr(ctx, net.JoinHostPort(a, port), tlsCfg, cfg)
		}
	}
	return nil, errPrivate
}

// measureQUIC shakes hands over QUIC with the helper's addresses on the h3 port and
// fetches the page over HTTP/3.
func (s *Server) measureQUIC(ctx context.Context, t *target, req *thproto.Request, resp *thproto.Response) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QUICTimeout)
	defer cancel()
	_, port, _ := net.SplitHostPort(resp.HTTPRequest.DiscoveredH3Endpoint)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, a := range resp.DNS.Addrs {
		ep := net.JoinHostPort(a, port)
		wg.Go(func() {
			res := thproto.TLSResult{ServerName: t.host}
			conn, err := s.dialQUIC(ctx, ep, &tls.Config{ServerName: t.host, RootCAs: s.cfg.Roots, NextProtos: []string{"h3"}}, nil)
			if err == nil {
				res.Status = true
				fillLeaf(&res, conn.ConnectionState().TLS.PeerCertificates)
				_ = conn.CloseWithError(0, "")
			} else {
				res.Failure = netx.FailureOf(netx.Wrap("quic_handshake", err))
			}
			mu.Lock()
			resp.QUICHandshake[ep] = res
			mu.Unlock()
		})
	}
	var h3 thproto.HTTPResult
	h3t := *t
	h3u := *t.url
	h3u.Host = net.JoinHostPort(t.host, port)
	h3t.url = &h3u
	wg.Go(func() { h3 = s.fetch(ctx, &h3t, req.HTTPRequestHeaders, true) })
	wg.Wait()
	resp.HTTP3Request = &h3
}
