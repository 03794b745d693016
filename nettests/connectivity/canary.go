package connectivity

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// Canary classes. A class is judged by where the canary is hosted, not by its domain:
// the allowlist phase of Kazakhstan, January 2022, let a few domestic services
// through while everything abroad stayed dark (detection-methods.md §1.1, §5.4).
// They follow the three classes of §5.4: ClassAllowlisted are domestic services
// likely to be kept on an allowlist (state portal, largest banks, national post
// and payments: D+ in §7), ClassDomestic ordinary domestic services (D−),
// ClassForeign services abroad (F). Allowlisted canaries may be the only thing up
// in an allowlist phase, so they never count towards online: they speak in the
// whitelist rule only (Decide).
const (
	ClassDomestic    = "domestic"
	ClassAllowlisted = "allowlisted"
	ClassForeign     = "foreign"
)

// Protocols measured per canary. DNS applies to host-name canaries only.
const (
	ProtoDNS  = "dns"
	ProtoTCP  = "tcp"
	ProtoTLS  = "tls"
	ProtoQUIC = "quic"
	// ProtoHTTP is a plain-HTTP GET on an http:// canary's port: an answer with
	// any status line counts.
	ProtoHTTP = "http"
)

// transportProtos carry the reachability verdict. DNS is evidence only: a resolver in
// the ISP answers from its cache while nothing is forwarded (the trap of a resolver
// that answers during a full shutdown).
// An https canary (the default) is probed on TCP, TLS and QUIC; an http:// canary on
// TCP and an HTTP fetch on its port, with no TLS and no QUIC: its service speaks
// neither, and their failures would read as the network's.
var transportProtos = []string{ProtoTCP, ProtoTLS, ProtoQUIC, ProtoHTTP}

var (
	httpsTransports = []string{ProtoTCP, ProtoTLS, ProtoQUIC}
	httpTransports  = []string{ProtoTCP, ProtoHTTP}
)

// Canary is one target of the connectivity test.
type Canary struct {
	// Name is the entry as configured: a URL, a host name or an IP:port literal.
	Name  string `json:"name"`
	Class string `json:"class"`
	// Host is the DNS name to resolve; "" for an IP literal.
	Host string `json:"host,omitempty"`
	// Address is the IP:port of an IP literal; "" for a host name.
	Address string `json:"address,omitempty"`
	// Port is the TCP and UDP port of the TLS and QUIC probes.
	Port string `json:"port"`
	// SNI is sent in TLS and QUIC handshakes; "" sends none (a configured IP literal).
	SNI string `json:"sni,omitempty"`
	// Path is the HTTP path the throughput probe (or an http canary's fetch) gets.
	Path string `json:"-"`
	// Scheme is "http" for an http:// canary (TCP and HTTP, no TLS or QUIC); ""
	// for every other form.
	Scheme string `json:"scheme,omitempty"`
}

// IsLiteral reports whether the canary is reached without DNS.
func (c Canary) IsLiteral() bool { return c.Host == "" }

// IsHTTP reports whether the canary is a plain-HTTP one.
func (c Canary) IsHTTP() bool { return c.Scheme == "http" }

// Transports lists the transport protocols measured on the canary, in order.
func (c Canary) Transports() []string {
	if c.IsHTTP() {
		return httpTransports
	}
	return httpsTransports
}

// Protocols lists what is measured on the canary, in order.
func (c Canary) Protocols() []string {
	if c.IsLiteral() {
		return c.Transports()
	}
	return append([]string{ProtoDNS}, c.Transports()...)
}

// HTTPURL is the URL an http canary's fetch asks for: its host (the name, or the
// IP literal), its port when not 80, and its path.
func (c Canary) HTTPURL() string {
	host := c.Host
	if host == "" {
		host, _, _ = net.SplitHostPort(c.Address)
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if c.Port != "80" {
		host += ":" + c.Port
	}
	return "http://" + host + c.Path
}

// ErrBadCanary is returned for an entry that is neither a URL, a host name nor an
// IP:port literal.
var ErrBadCanary = errors.New("connectivity: bad canary entry")

// ParseCanary reads one configuration entry, in every form DESIGN.md allows:
// "https://host[:port]/path" (DNS, TCP, TLS and QUIC with SNI host), "host" (the
// same on port 443), "https://IP[:port]/", "IP:port" or "IP" (TCP, TLS without SNI
// and QUIC on that address, no DNS), "http://host[:port]/path" and
// "http://IP[:port]/" (DNS for a name, then TCP and an HTTP GET on the port,
// default 80: no TLS, no QUIC).
func ParseCanary(entry, class string) (Canary, error) {
	entry = strings.TrimSpace(entry)
	if entry == "" {
		return Canary{}, fmt.Errorf("%w: empty", ErrBadCanary)
	}
	c := Canary{Name: entry, Class: class, Port: "443", Path: "/"}
	if strings.Contains(entry, "://") {
		return parseURLCanary(c, entry)
	}
	if ap, err := netip.ParseAddrPort(entry); err == nil {
		c.Address, c.Port = ap.String(), fmt.Sprint(ap.Port())
		return c, nil
	}
	if a, err := netip.ParseAddr(strings.Trim(entry, "[]")); err == nil {
		c.Address = net.JoinHostPort(a.String(), c.Port)
		return c, nil
	}
	if !validHostName(entry) {
		return Canary{}, fmt.Errorf("%w: %q is not a URL, host name or IP:port", ErrBadCanary, entry)
	}
	c.Host, c.SNI = strings.ToLower(entry), strings.ToLower(entry)
	return c, nil
}

func parseURLCanary(c Canary, entry string) (Canary, error) {
	u, err := url.Parse(entry)
	if err != nil || u.Hostname() == "" {
		return Canary{}, fmt.Errorf("%w: %q is not a URL", ErrBadCanary, entry)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		c.Scheme, c.Port = "http", "80"
	default:
		return Canary{}, fmt.Errorf("%w: %q: the scheme must be http:// or https://", ErrBadCanary, entry)
	}
	if p := u.Port(); p != "" {
		c.Port = p
	}
	if u.EscapedPath() != "" {
		c.Path = u.EscapedPath()
	}
	if a, err := netip.ParseAddr(u.Hostname()); err == nil {
		c.Address = net.JoinHostPort(a.String(), c.Port)
		return c, nil
	}
	if !validHostName(u.Hostname()) {
		return Canary{}, fmt.Errorf("%w: %q: bad host name", ErrBadCanary, entry)
	}
	c.Host = strings.ToLower(u.Hostname())
	if !c.IsHTTP() {
		c.SNI = c.Host
	}
	return c, nil
}

// validHostName accepts LDH names with at least one dot; it is only a guard against
// typos in the configuration, the resolver has the last word.
func validHostName(s string) bool {
	if len(s) == 0 || len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
	}
	return true
}

// ParseCanaries parses the domestic and foreign lists of the configuration. A
// repeated entry is measured once: it would otherwise weigh twice in the ratios.
func ParseCanaries(domestic, foreign []string) ([]Canary, error) {
	return ParseCanarySets(domestic, nil, foreign)
}

// ParseCanarySets parses the domestic, allowlisted and foreign lists of the
// configuration. A repeated entry is measured once, in the first class that lists
// it (domestic, then allowlisted, then foreign).
func ParseCanarySets(domestic, allowlisted, foreign []string) ([]Canary, error) {
	var out []Canary
	seen := map[string]bool{}
	for _, set := range []struct {
		class   string
		entries []string
	}{{ClassDomestic, domestic}, {ClassAllowlisted, allowlisted}, {ClassForeign, foreign}} {
		for _, e := range set.entries {
			c, err := ParseCanary(e, set.class)
			if err != nil {
				return nil, err
			}
			if !seen[c.Name] {
				seen[c.Name] = true
				out = append(out, c)
			}
		}
	}
	return out, nil
}

//go:embed data/canaries.json
var defaultsFS embed.FS

// defaultEntry is one documented canary of the embedded data file.
type defaultEntry struct {
	Target string   `json:"target"`
	Addrs  []string `json:"addrs"` // IP literals of the same service, probed without DNS
	What   string   `json:"what"`
	Why    string   `json:"why"`
	Source string   `json:"source"`
}

// defaultsFile is the layout of data/canaries.json.
type defaultsFile struct {
	Domestic map[string][]defaultEntry `json:"domestic"` // by probe_cc
	// Allowlisted are domestic services likely kept on an allowlist, by probe_cc.
	Allowlisted map[string][]defaultEntry `json:"allowlisted"`
	Foreign     map[string][]defaultEntry `json:"foreign"` // by probe_cc; "*" is the global set
}

// DefaultCanaries returns the embedded canaries for a country (probe_cc): its
// ordinary domestic set, its allowlisted set and the foreign set. A country without
// domestic and allowlisted sets gets the foreign set only: the whitelist verdict
// then cannot be reached, and the test keys say so (no domestic canaries).
func DefaultCanaries(cc string) ([]Canary, error) {
	data, err := defaultsFS.ReadFile("data/canaries.json")
	if err != nil {
		return nil, fmt.Errorf("connectivity: embedded canaries: %w", err)
	}
	var f defaultsFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("connectivity: embedded canaries: %w", err)
	}
	foreign := f.Foreign[cc]
	if len(foreign) == 0 {
		foreign = f.Foreign["*"]
	}
	var out []Canary
	for _, set := range []struct {
		class   string
		entries []defaultEntry
	}{{ClassDomestic, f.Domestic[cc]}, {ClassAllowlisted, f.Allowlisted[cc]}, {ClassForeign, foreign}} {
		for _, e := range set.entries {
			cs, err := expandEntry(e, set.class)
			if err != nil {
				return nil, fmt.Errorf("connectivity: embedded canaries: %w", err)
			}
			out = append(out, cs...)
		}
	}
	return out, nil
}

// expandEntry turns a documented entry into its host canary plus one IP-literal
// canary per address, each sending the host's SNI so that the certificate matches.
func expandEntry(e defaultEntry, class string) ([]Canary, error) {
	c, err := ParseCanary(e.Target, class)
	if err != nil {
		return nil, err
	}
	out := []Canary{c}
	for _, a := range e.Addrs {
		lit, err := ParseCanary(a, class)
		if err != nil || !lit.IsLiteral() {
			return nil, fmt.Errorf("%s: address %q: %w", e.Target, a, ErrBadCanary)
		}
		lit.SNI, lit.Path = c.SNI, c.Path
		out = append(out, lit)
	}
	return out, nil
}
