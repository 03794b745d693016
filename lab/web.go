//go:build linux

package lab

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// serverReadTimeout bounds a request's headers so a stuck client cannot hold a
// server goroutine past the lab's life.
const serverReadTimeout = 10 * time.Second

// BlockpageBody is what the censor's transparent proxy answers for a blocked name.
// It carries the phrases national blockpages in the region use ("Страница
// заблокирована", the only KZ-tagged entry of ooni/blocking-fingerprints,
// cp.d_corp_kz_ps, per the team's detection-methods notes §6).
const BlockpageBody = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Доступ ограничен</title></head>
<body><h1>Страница заблокирована</h1>
<p>Доступ к данному интернет-ресурсу ограничен по решению уполномоченного органа.</p>
<p>Access to this resource has been restricted by decision of the authorised body.</p>
</body></html>
`

// siteHandler serves every site of the world: the page of the site named by the
// Host header or, for IP-literal requests, of the site owning the address.
type siteHandler struct {
	world *World
	// altSvc makes HTTPS answers of h3 sites advertise HTTP/3.
	altSvc bool
	// strict serves a site only on its own address, as real hosting does: a
	// request that reaches another address (a lying resolver's answer) gets a
	// 404. The interceptor, which receives everything by DNAT, is not strict.
	strict bool
}

func (h *siteHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	site := h.siteFor(r)
	if site == nil {
		http.Error(w, "no such site in the lab", http.StatusNotFound)
		return
	}
	if mounted, ok := h.world.mounted(site.Name); ok {
		mounted.ServeHTTP(w, r)
		return
	}
	if h.altSvc && site.H3 && r.TLS != nil && r.ProtoMajor < 3 {
		w.Header().Set("Alt-Svc", `h3=":443"; ma=3600`)
	}
	body := variantPage(site, r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if site.Variant == "" {
		// QUIRK: variant sites send no header outside OONI's common list, as many
		// real (chunked, dynamic) sites do not: a shared Content-Length or
		// X-Lab-Site name would make every edition "match" the control.
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Header().Set("X-Lab-Site", site.Name)
	}
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func (h *siteHandler) siteFor(r *http.Request) *Site {
	host := r.Host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	local, hasLocal := requestLocalAddr(r)
	site, ok := h.world.Lookup(host)
	if !ok {
		if a, err := netip.ParseAddr(host); err == nil {
			site, ok = h.world.SiteAt(a)
		}
	}
	if !ok && hasLocal {
		site, ok = h.world.SiteAt(local)
	}
	if ok && h.strict && hasLocal && site.Addr != local {
		// A CDN edge serves every site by Host: domain fronting.
		if edge, isSite := h.world.SiteAt(local); isSite && edge.Front {
			return site
		}
		return nil
	}
	if !ok {
		return nil
	}
	return site
}

// requestLocalAddr is the address the request reached; HTTP/3 requests carry none
// in the context, and are then served by name alone.
func requestLocalAddr(r *http.Request) (netip.Addr, bool) {
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || la == nil {
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(la.String())
	if err != nil || ap.Addr().IsUnspecified() {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// variantPage is the site's page for this request: sitePage, unless the site's
// Variant makes its own content differ by audience or by load.
func variantPage(s *Site, r *http.Request) []byte {
	switch s.Variant {
	case "audience":
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && ProbeLAN.Contains(ap.Addr().Unmap()) {
			return editionPage(s.Name, "Добро пожаловать: "+s.Name, max(s.BodyBytes/2, 2000))
		}
		return editionPage(s.Name, "Welcome to "+s.Name, max(s.BodyBytes, 4000))
	case "dynamic":
		n := loadCounter.Add(1)
		return editionPage(s.Name, fmt.Sprintf("Edition%05d %s", n, s.Name), 3000+int(n%7)*1500)
	}
	return sitePage(s)
}

// loadCounter numbers the loads of "dynamic" pages.
var loadCounter atomic.Int64

// editionPage is a page of about size bytes with the given title.
func editionPage(name, title string, size int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html><head><title>%s</title></head>\n<body><h1>%s</h1>\n", title, name)
	const filler = "<p>Ordinary content of the site, in whatever edition this visitor gets.</p>\n"
	for b.Len()+len(filler)+len("</body></html>\n") <= size {
		b.WriteString(filler)
	}
	b.WriteString("</body></html>\n")
	return []byte(b.String())
}

var pageCache sync.Map // site name + size → []byte

// sitePage is a deterministic page for the site: the control and the probe see the
// same bytes, so any difference is the censor's.
func sitePage(s *Site) []byte {
	key := fmt.Sprintf("%s/%d", s.Name, s.BodyBytes)
	if b, ok := pageCache.Load(key); ok {
		return b.([]byte)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html><head><title>Welcome to %s</title></head>\n<body><h1>%s</h1>\n", s.Name, s.Name)
	b.WriteString("<p>This is an ordinary page of the vantage lab's emulated internet.</p>\n")
	const filler = "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.</p>\n"
	for b.Len()+len(filler)+len("</body></html>\n") <= s.BodyBytes {
		b.WriteString(filler)
	}
	b.WriteString("</body></html>\n")
	page := []byte(b.String())
	pageCache.Store(key, page)
	return page
}

// webServers are the HTTP, HTTPS and HTTP/3 servers of one namespace.
type webServers struct {
	servers []*http.Server
	h3      *http3.Server
	conns   []net.PacketConn
	wg      sync.WaitGroup
}

// startWeb serves handler on addr:80 (HTTP), addr:443 (HTTPS, with tlsConf) and,
// when withH3, UDP addr:443 (HTTP/3), all inside ns.
func startWeb(ns *Namespace, ip string, handler http.Handler, tlsConf *tls.Config, withH3 bool) (*webServers, error) {
	ws := &webServers{}
	plain, err := ns.Listen("tcp4", net.JoinHostPort(ip, "80"))
	if err != nil {
		return nil, err
	}
	ws.serve(plain, handler)
	secure, err := ns.Listen("tcp4", net.JoinHostPort(ip, "443"))
	if err != nil {
		ws.Close()
		return nil, err
	}
	ws.serve(tls.NewListener(secure, withHTTP2(tlsConf)), handler)
	if withH3 {
		udp, err := ns.ListenUDP(net.JoinHostPort(ip, "443"))
		if err != nil {
			ws.Close()
			return nil, err
		}
		ws.conns = append(ws.conns, udp)
		ws.h3 = &http3.Server{Handler: handler, TLSConfig: http3.ConfigureTLSConfig(tlsConf)}
		ws.wg.Add(1)
		go func() {
			defer ws.wg.Done()
			ws.h3.Serve(udp)
		}()
	}
	return ws, nil
}

// withHTTP2 offers h2 and http/1.1 by ALPN, as real sites do.
func withHTTP2(c *tls.Config) *tls.Config {
	c = c.Clone()
	c.NextProtos = []string{"h2", "http/1.1"}
	return c
}

// serve runs an http.Server on l until Close.
func (ws *webServers) serve(l net.Listener, handler http.Handler) {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: serverReadTimeout,
		ErrorLog:          discardLog,
		Protocols:         new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(true)
	srv.Protocols.SetUnencryptedHTTP2(false)
	ws.servers = append(ws.servers, srv)
	ws.wg.Add(1)
	go func() {
		defer ws.wg.Done()
		// Serve returns ErrServerClosed at teardown; any other error means the
		// listener died with its namespace, which only happens at teardown too.
		_ = srv.Serve(l)
	}()
}

// Close stops every server and waits for their goroutines.
func (ws *webServers) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, s := range ws.servers {
		if s.Shutdown(ctx) != nil {
			s.Close()
		}
	}
	if ws.h3 != nil {
		ws.h3.Close()
	}
	for _, c := range ws.conns {
		c.Close()
	}
	ws.wg.Wait()
	return nil
}

// blockpageHandler answers every request with the blockpage.
func blockpageHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Server", "censor-proxy")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write([]byte(BlockpageBody))
		}
	})
}

// discardLog silences net/http's per-connection error log: TLS handshakes that the
// censor cuts on purpose would otherwise flood the test output.
var discardLog = log.New(io.Discard, "", 0)

// tlsListener terminates TLS with certificates from ca, offering h2 and http/1.1.
func tlsListener(l net.Listener, ca *Authority) net.Listener {
	return tls.NewListener(l, withHTTP2(ca.TLSConfig(nil)))
}

// AlteredBody is what the "http.diff" proxy answers: a page unlike the site's and
// unlike any known blockpage, so only a comparison with the control can flag it.
const AlteredBody = `<!DOCTYPE html>
<html><head><title>Notice</title></head>
<body><p>This content is not available in your region at the moment.</p></body></html>
`

// alteredHandler answers every request with AlteredBody and a 403.
func alteredHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		if r.Method != http.MethodHead {
			w.Write([]byte(AlteredBody))
		}
	})
}

// DeniedBody is what the "http.denied" proxy answers, with a 403: a generic
// filtering proxy's page, titled as Censored Planet's vague "Access denied" rows
// (ooni/blocking-fingerprints cp.f_gen_access_denied_satellite) describe.
const DeniedBody = `<!DOCTYPE html>
<html><head><title>Access denied</title></head>
<body><h2>Access denied</h2><p>The requested URL could not be retrieved: access to it is denied by policy.</p></body></html>
`

// deniedHandler answers every request with DeniedBody and a 403.
func deniedHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		if r.Method != http.MethodHead {
			w.Write([]byte(DeniedBody))
		}
	})
}

// warningHandler redirects every request to the lab's warning host, when a block
// has named one (Lab.warningHost), else answers 404.
func warningHandler(host *atomic.Value) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, _ := host.Load().(string)
		if h == "" {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, "http://"+h+"/", http.StatusFound)
	})
}

// closer accepts connections, reads the client's first flight (a ClientHello) and
// closes cleanly: the client sees EOF in the middle of its handshake.
type closer struct {
	ln net.Listener
	wg sync.WaitGroup
}

// closerReadTimeout bounds the wait for the client's first bytes.
const closerReadTimeout = 5 * time.Second

func startCloser(ln net.Listener) *closer {
	c := &closer{ln: ln}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				defer conn.Close()
				conn.SetReadDeadline(time.Now().Add(closerReadTimeout))
				buf := make([]byte, 4096)
				conn.Read(buf)
			}()
		}
	}()
	return c
}

// Close stops accepting and waits for open connections to finish.
func (c *closer) Close() error {
	err := c.ln.Close()
	c.wg.Wait()
	return err
}
