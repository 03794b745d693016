//go:build linux

package lab

import (
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
)

// The address plan. Every range is ordinary public unicast space, not a bogon:
// the probe rightly treats private, loopback or documentation answers as DNS
// blocking. The addresses exist only inside the lab's namespaces.
var (
	// ProbeLAN is the probe's access network; the ISP router is its gateway and
	// also its (censor-controlled) resolver, as on many access networks.
	ProbeLAN   = netip.MustParsePrefix("95.56.1.0/24")
	ProbeAddr  = netip.MustParseAddr("95.56.1.100")
	RouterAddr = netip.MustParseAddr("95.56.1.1")
	// transit joins the router to the internet namespace.
	transitRouter   = netip.MustParseAddr("95.56.0.1")
	transitInternet = netip.MustParseAddr("95.56.0.2")
	// Domestic is the "in-country" hosting range, Foreign the rest of the world.
	// The internet namespace answers on every address of both (an AnyIP route).
	Domestic = netip.MustParsePrefix("95.57.0.0/16")
	Foreign  = netip.MustParsePrefix("45.60.0.0/16")

	// HonestResolver is a foreign recursive resolver that tells the truth.
	HonestResolver = netip.MustParseAddr("45.60.0.53")
	// HelperAddr is where the control helper (vantage helper serve) listens.
	HelperAddr = netip.MustParseAddrPort("45.60.0.80:8080")
)

// Router-local service ports; the censor's NAT rules send traffic to them.
const (
	blockpagePort   = 8080 // answers every request with BlockpageBody
	alteredPort     = 8081 // answers with an unrelated page (no known fingerprint)
	warningPort     = 8082 // answers 302 to the national warning host ("http.redirect")
	deniedPort      = 8083 // answers a proxy's 403 "Access denied" page ("http.denied")
	interceptorPort = 8443 // TLS with the national CA
	eofPort         = 8444 // reads the ClientHello, then closes the connection
)

// Site is one web site of the emulated internet.
type Site struct {
	Name string     `toml:"name"`
	Addr netip.Addr `toml:"addr"`
	// H3 makes the site advertise HTTP/3 (Alt-Svc) on its HTTPS answers.
	H3 bool `toml:"h3"`
	// BodyBytes pads the page to this size (throughput needs a real transfer).
	BodyBytes int `toml:"body_bytes"`
	// Down makes the site fail for everybody, control included: "refused" (the
	// host rejects connections) or "nxdomain" (the name no longer exists).
	Down string `toml:"down"`
	// Variant makes the site's own page differ without any censor: "audience"
	// serves visitors from the probe's LAN another language edition (another
	// title, half the length), "dynamic" changes the title and the length on
	// every load (a news front page).
	Variant string `toml:"variant"`
	// Front makes the site a CDN edge: on its address it serves every site of
	// the lab by the Host header, whatever name the TLS handshake carried (the
	// fronting that upload and helper routes use).
	Front bool `toml:"front"`
	// DoH makes the site a DNS-over-HTTPS resolver (POST /dns-query, RFC 8484)
	// answering as the honest resolver does, for dnscheck.
	DoH bool `toml:"doh"`
	// Serves makes the site another address of a lab service instead of a web
	// site: "helper" forwards its requests to the control helper.
	Serves string `toml:"serves"`
}

// canaryBodyBytes makes canary pages big enough for the connectivity test's
// throughput probe (it reads up to 256 KiB and needs at least 32 KiB).
const canaryBodyBytes = 320 << 10

// Canary sites, present in every lab: the config's [canaries] point at them.
var baseSites = []Site{
	{Name: "egov.kz.vlab", Addr: netip.MustParseAddr("95.57.0.10"), H3: true, BodyBytes: canaryBodyBytes},
	{Name: "bank.kz.vlab", Addr: netip.MustParseAddr("95.57.0.11"), H3: true, BodyBytes: canaryBodyBytes},
	{Name: "cdn.world.vlab", Addr: netip.MustParseAddr("45.60.0.10"), H3: true, BodyBytes: canaryBodyBytes},
	{Name: "search.world.vlab", Addr: netip.MustParseAddr("45.60.0.11"), H3: true, BodyBytes: canaryBodyBytes},
}

// canaryConfig returns the [canaries] lists: one name and one IP literal per class.
func canaryConfig() (domestic, foreign []string) {
	domestic = []string{"https://egov.kz.vlab/", "95.57.0.11:443"}
	foreign = []string{"https://cdn.world.vlab/", "45.60.0.11:443"}
	return domestic, foreign
}

// World is the set of sites the lab's DNS and web servers know.
type World struct {
	byName map[string]*Site
	byAddr map[netip.Addr]*Site
	// mounts are handlers serving a site instead of its page (a collector, a
	// proxy to the helper), by site name; set with Lab.Mount.
	mounts sync.Map
}

// mounted returns the handler mounted on the site, if any.
func (w *World) mounted(name string) (http.Handler, bool) {
	h, ok := w.mounts.Load(name)
	if !ok {
		return nil, false
	}
	return h.(http.Handler), true
}

// newWorld checks and indexes the canaries plus the scenario's sites.
func newWorld(sites []Site) (*World, error) {
	w := &World{byName: map[string]*Site{}, byAddr: map[netip.Addr]*Site{}}
	all := append(append([]Site{}, baseSites...), sites...)
	for i := range all {
		s := &all[i]
		s.Name = canonicalName(s.Name)
		if s.Name == "" {
			return nil, fmt.Errorf("lab: site %d has no name", i)
		}
		if !Domestic.Contains(s.Addr) && !Foreign.Contains(s.Addr) {
			return nil, fmt.Errorf("lab: site %s: address %v is outside %v and %v", s.Name, s.Addr, Domestic, Foreign)
		}
		if s.Serves != "" && s.Serves != "helper" {
			return nil, fmt.Errorf("lab: site %s: serves = %q, want helper", s.Name, s.Serves)
		}
		if s.Down != "" && s.Down != "refused" && s.Down != "nxdomain" {
			return nil, fmt.Errorf("lab: site %s: down = %q, want refused or nxdomain", s.Name, s.Down)
		}
		if _, dup := w.byName[s.Name]; dup {
			return nil, fmt.Errorf("lab: site %s defined twice", s.Name)
		}
		if other, dup := w.byAddr[s.Addr]; dup {
			return nil, fmt.Errorf("lab: sites %s and %s share %v", other.Name, s.Name, s.Addr)
		}
		w.byName[s.Name] = s
		w.byAddr[s.Addr] = s
	}
	return w, nil
}

// Lookup finds a site by name.
func (w *World) Lookup(name string) (*Site, bool) {
	s, ok := w.byName[canonicalName(name)]
	return s, ok
}

// SiteAt finds the site that owns an address.
func (w *World) SiteAt(a netip.Addr) (*Site, bool) {
	s, ok := w.byAddr[a.Unmap()]
	return s, ok
}

// Sites returns every site sorted by name.
func (w *World) Sites() []*Site {
	out := make([]*Site, 0, len(w.byName))
	for _, s := range w.byName {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// addrsOf turns names or address literals into addresses.
func (w *World) addrsOf(targets []string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, t := range targets {
		if a, err := netip.ParseAddr(t); err == nil {
			out = append(out, a)
			continue
		}
		if p, err := netip.ParsePrefix(t); err == nil && p.Bits() == 32 {
			out = append(out, p.Addr())
			continue
		}
		s, ok := w.Lookup(t)
		if !ok {
			return nil, fmt.Errorf("lab: %q is neither an address nor a site of this scenario", t)
		}
		out = append(out, s.Addr)
	}
	return out, nil
}

func canonicalName(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}
