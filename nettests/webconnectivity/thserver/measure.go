package thserver

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"sort"
	"sync"
	"syscall"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
	"github.com/vantage-probe/vantage/probe/netx"
)

// errPrivate is the error of a connection the helper refused to open.
var errPrivate = errors.New("thserver: refusing a non-public address")

// target is the URL being measured, with the pieces every step needs.
type target struct {
	url   *url.URL
	host  string
	ports []string // the URL's port, and 443 for http:// URLs (address validation)
}

func newTarget(raw string) *target {
	u, _ := url.Parse(raw) // validated by thproto
	t := &target{url: u, host: u.Hostname()}
	switch {
	case u.Port() != "":
		t.ports = []string{u.Port()}
	case u.Scheme == "https":
		t.ports = []string{"443"}
	default:
		t.ports = []string{"80", "443"}
	}
	return t
}

// tlsPort reports whether endpoints on port get a TLS handshake.
func (t *target) tlsPort(port string) bool {
	return port == "443" || (t.url.Scheme == "https" && port == t.ports[0])
}

// measure runs DNS, then the endpoints and the fetch concurrently, then QUIC.
func (s *Server) measure(ctx context.Context, req *thproto.Request) *thproto.Response {
	t := newTarget(req.HTTPRequest)
	resp := &thproto.Response{
		TCPConnect:    map[string]thproto.TCPResult{},
		TLSHandshake:  map[string]thproto.TLSResult{},
		QUICHandshake: map[string]thproto.TLSResult{},
		IPInfo:        map[string]thproto.IPInfo{},
	}
	resp.DNS = s.resolve(ctx, t.host)
	endpoints := s.endpoints(t, req.TCPConnect, resp.DNS.Addrs)

	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ep := range endpoints {
		wg.Go(func() {
			tcp, tlsRes := s.measureEndpoint(ctx, t, ep)
			mu.Lock()
			defer mu.Unlock()
			resp.TCPConnect[ep] = tcp
			if tlsRes != nil {
				resp.TLSHandshake[ep] = *tlsRes
			}
		})
	}
	wg.Go(func() { resp.HTTPRequest = s.fetch(ctx, t, req.HTTPRequestHeaders, false) })
	wg.Wait()

	if s.cfg.QUIC && req.XQUICEnabled && resp.HTTPRequest.DiscoveredH3Endpoint != "" {
		s.measureQUIC(ctx, t, req, resp)
	}
	resp.IPInfo = s.ipInfo(req.TCPConnect, resp)
	return resp
}

// resolve looks the host up and maps failures into the TH vocabulary (OONI's
// oohelperd dnsMapFailure): NXDOMAIN → dns_name_error, no answer → no failure and no
// addresses, anything else → dns_server_failure. Non-public answers are dropped
// unless private targets are allowed.
func (s *Server) resolve(ctx context.Context, host string) thproto.DNSResult {
	if ip, err := netip.ParseAddr(host); err == nil {
		return thproto.DNSResult{Addrs: []string{ip.String()}}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DNSTimeout)
	defer cancel()
	addrs, err := s.cfg.Lookup(ctx, host)
	if err != nil {
		var f string
		switch netx.Classify(err) {
		case netx.FailureDNSNXDOMAIN:
			f = thproto.FailureDNSNameError
		case netx.FailureDNSNoAnswer:
			return thproto.DNSResult{Addrs: []string{}}
		default:
			f = thproto.FailureDNSServerFailure
		}
		return thproto.DNSResult{Failure: &f, Addrs: []string{}}
	}
	out := []string{}
	for _, a := range addrs {
		if ip, err := netip.ParseAddr(a); err == nil && s.allowed(ip) {
			out = append(out, ip.String())
		}
	}
	return thproto.DNSResult{Addrs: out}
}

// endpoints lists the probe's endpoints and the helper's own addresses on the
// target's ports, without duplicates, bounded.
func (s *Server) endpoints(t *target, probe []string, addrs []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(ep string) {
		if !seen[ep] && len(out) < maxEndpointsMeasured {
			seen[ep] = true
			out = append(out, ep)
		}
	}
	for _, ep := range probe {
		if ap, err := netip.ParseAddrPort(ep); err == nil {
			add(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String())
		}
	}
	for _, a := range addrs {
		for _, p := range t.ports {
			add(net.JoinHostPort(a, p))
		}
	}
	sort.Strings(out)
	return out
}

// measureEndpoint connects to ep and, on a TLS port, shakes hands with the URL's name.
func (s *Server) measureEndpoint(ctx context.Context, t *target, ep string) (thproto.TCPResult, *thproto.TLSResult) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.EndpointTimeout)
	defer cancel()
	_, port, _ := net.SplitHostPort(ep)
	conn, err := s.dialer().DialContext(ctx, "tcp", ep)
	if err != nil {
		f := tcpFailure(err)
		return thproto.TCPResult{Failure: &f}, nil
	}
	defer conn.Close()
	if !t.tlsPort(port) {
		return thproto.TCPResult{Status: true}, nil
	}
	tc := tls.Client(conn, &tls.Config{ServerName: t.host, RootCAs: s.cfg.Roots, NextProtos: []string{"h2", "http/1.1"}})
	res := &thproto.TLSResult{ServerName: t.host}
	err = tc.HandshakeContext(ctx)
	if err == nil {
		res.Status = true
		fillLeaf(res, tc.ConnectionState().PeerCertificates)
	} else {
		res.Failure = netx.FailureOf(netx.Wrap("tls_handshake", err))
	}
	return thproto.TCPResult{Status: true}, res
}

func fillLeaf(res *thproto.TLSResult, chain []*x509.Certificate) {
	if len(chain) == 0 {
		return
	}
	sum := sha256.Sum256(chain[0].RawSubjectPublicKeyInfo)
	res.XLeafSPKISHA256 = hex.EncodeToString(sum[:])
	res.XLeafIssuer = chain[0].Issuer.String()
}

// tcpFailure maps a connect error into the TH vocabulary (OONI's oohelperd): timeout
// and refusal keep their names, anything else is connect_error. A refused private
// address says so.
func tcpFailure(err error) string {
	if errors.Is(err, errPrivate) {
		return thproto.FailurePrivateRefused
	}
	switch netx.Classify(err) {
	case netx.FailureGenericTimeout:
		return thproto.FailureGenericTimeout
	case netx.FailureConnectionRefused:
		return thproto.FailureConnectionRefused
	}
	return thproto.FailureConnectError
}

// dialer returns a dialer that refuses non-public addresses at connect time, after
// any resolution: redirects and DNS rebinding cannot reach a private network.
func (s *Server) dialer() *net.Dialer {
	return &net.Dialer{Control: func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !s.allowed(ap.Addr().Unmap()) {
			return fmt.Errorf("%w: %s", errPrivate, address)
		}
		return nil
	}}
}

// dialContext resolves with the helper's resolver and dials the addresses in turn.
func (s *Server) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs := []string{host}
	if _, err := netip.ParseAddr(host); err != nil {
		if addrs, err = s.cfg.Lookup(ctx, host); err != nil {
			return nil, err
		}
	}
	var errs []error
	for _, a := range addrs {
		conn, err := s.dialer().DialContext(ctx, network, net.JoinHostPort(a, port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, netx.ErrDNSNoAnswer
	}
	return nil, errors.Join(errs...)
}

// ipInfo tags every address either side resolved (OONI's ip_info flags), with its
// ASN when the helper has an IP database (else 0, "unknown").
func (s *Server) ipInfo(probe []string, resp *thproto.Response) map[string]thproto.IPInfo {
	out := map[string]thproto.IPInfo{}
	tag := func(addr string, flag int64) {
		ip, err := netip.ParseAddr(addr)
		if err != nil {
			return
		}
		key := ip.Unmap().String()
		info, seen := out[key]
		if !seen && len(s.cfg.Geo) > 0 {
			info.ASN = s.locate(key).ASN
		}
		info.Flags |= flag
		if thproto.IsBogon(key) {
			info.Flags |= thproto.FlagBogon
		}
		out[key] = info
	}
	for _, ep := range probe {
		if ap, err := netip.ParseAddrPort(ep); err == nil {
			tag(ap.Addr().String(), thproto.FlagResolvedByProbe)
		}
	}
	for _, a := range resp.DNS.Addrs {
		tag(a, thproto.FlagResolvedByTH)
	}
	for ep, r := range resp.TLSHandshake {
		if ap, err := netip.ParseAddrPort(ep); err == nil && r.Status {
			tag(ap.Addr().String(), thproto.FlagValidForDomain)
		}
	}
	return out
}
