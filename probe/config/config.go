// Package config loads and checks vantage's one TOML configuration file.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/vantage-probe/vantage/report/limits"
	"github.com/vantage-probe/vantage/report/upload"
)

// Config is the whole configuration file. Every key is optional; Defaults fills what
// a fresh install needs.
type Config struct {
	Probe    Probe    `toml:"probe"`
	Network  Network  `toml:"network"`
	TLS      TLS      `toml:"tls"`
	Control  Control  `toml:"control"`
	Canaries Canaries `toml:"canaries"`
	Upload   Upload   `toml:"upload"`
	Storage  Storage  `toml:"storage"`
	Run      Run      `toml:"run"`
	Targets  Targets  `toml:"targets"`

	// Path is the file this configuration was read from ("" for defaults only).
	Path string `toml:"-"`
}

// Probe holds identity overrides and the volunteer's consent.
type Probe struct {
	Country     string `toml:"country"` // probe_cc override, e.g. "KZ"
	ASN         string `toml:"asn"`     // probe_asn override, e.g. "AS9198"
	NetworkName string `toml:"network_name"`
	// ASNDB is an IP-to-AS database (.mmdb: GeoLite2-ASN, DB-IP ASN, IPinfo) that
	// gives every DNS answer its asn and the measurement its resolver_asn; "" for
	// none (answers say asn 0).
	ASNDB           string `toml:"asn_db"`
	InformedConsent bool   `toml:"informed_consent"`
}

// Network selects the resolver the probe uses.
type Network struct {
	// Resolver is "system" or a URL: udp://IP:PORT, tcp://IP:PORT, tls://IP:PORT
	// (DNS over TLS) or https://HOST/PATH (DNS over HTTPS).
	Resolver string `toml:"resolver"`
	// SecondResolver is the second resolver path web_connectivity compares with; the
	// same syntax as Resolver, "" for none.
	SecondResolver string `toml:"second_resolver"`
}

// TLS configures certificate validation.
type TLS struct {
	Roots       string `toml:"roots"`        // PEM file replacing the system roots
	ClientHello string `toml:"client_hello"` // "chrome" (default, via utls) or "go"
}

// Control lists the control helpers, by URL.
type Control struct {
	Helpers []string `toml:"helpers"`
	// HelperRoutes are further helpers, tried after Helpers: a URL or a fronted
	// and/or proxied route, as in [upload] collectors.
	HelperRoutes []Route `toml:"helper_routes"`
	// BenignSNI is the name web_connectivity's SNI swap sends ("" = example.com).
	BenignSNI string `toml:"benign_sni"`
}

// Canaries overrides the embedded canary sets: URLs, host names or IP:port.
type Canaries struct {
	Domestic []string `toml:"domestic"`
	Foreign  []string `toml:"foreign"`
	// Allowlisted are domestic services likely kept on an allowlist (state portal,
	// banks); they replace the embedded ones (docs/methodology-network.md §5).
	Allowlisted []string `toml:"allowlisted"`
}

// Upload configures the collector.
type Upload struct {
	Enabled   bool   `toml:"enabled"`
	Collector string `toml:"collector"`
	// Collectors are further routes to the collector, tried in order after
	// Collector (docs/storage.md, "Routes").
	Collectors []Route `toml:"collectors"`
}

// Routes is every upload route in the order tried: Collector, then Collectors.
func (u Upload) Routes() []Route {
	var out []Route
	if u.Collector != "" {
		out = append(out, Route{URL: u.Collector})
	}
	return append(out, u.Collectors...)
}

// Route is one way to reach a collector or a control helper. In the file it is
// a URL string, or a table {url, front, proxy}: front is the name dialled and
// sent as TLS SNI (a CDN edge that forwards by Host), proxy a socks5h://,
// socks5:// or http:// proxy URL.
type Route struct {
	URL   string `toml:"url"`
	Front string `toml:"front"`
	Proxy string `toml:"proxy"`
}

// UnmarshalTOML reads a URL string or a {url, front, proxy} table.
func (r *Route) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		*r = Route{URL: v}
		return nil
	case map[string]any:
		*r = Route{}
		for k, val := range v {
			s, ok := val.(string)
			if !ok {
				return fmt.Errorf("route key %q must be a string", k)
			}
			switch k {
			case "url":
				r.URL = s
			case "front":
				r.Front = s
			case "proxy":
				r.Proxy = s
			default:
				return fmt.Errorf("route has an unknown key %q (want url, front, proxy)", k)
			}
		}
		return nil
	}
	return fmt.Errorf("a route is a URL string or a table {url, front, proxy}, not %T", v)
}

// Upload is the route in the upload client's type.
func (r Route) Upload() upload.Route { return upload.Route{URL: r.URL, Front: r.Front, Proxy: r.Proxy} }

// Storage says where the local store lives.
type Storage struct {
	Dir string `toml:"dir"`
	// KeepUploadedDays is how many days a measurement the collector acknowledged
	// stays in the store (0: store.DefaultKeepUploaded, four weeks; -1: forever).
	// Measurements not uploaded are never pruned.
	KeepUploadedDays int `toml:"keep_uploaded_days"`
}

// Run tunes a run.
type Run struct {
	Parallelism int     `toml:"parallelism"` // URLs measured at once; 0 = default
	Timeout     float64 `toml:"timeout"`     // seconds per network step; 0 = adaptive default
	Retries     int     `toml:"retries"`     // attempts per failing step; 0 = default
}

// Targets replaces the embedded target lists of the messaging and circumvention
// nettests: each key is the path of a JSON target file (docs/methodology-services.md);
// "" keeps the embedded list. The file is read when the nettest is built, and an
// unreadable or bad one is an error naming it.
type Targets struct {
	WhatsApp          string `toml:"whatsapp"`
	Telegram          string `toml:"telegram"`
	Signal            string `toml:"signal"`
	FacebookMessenger string `toml:"facebook_messenger"`
	Tor               string `toml:"tor"`
	DNSCheck          string `toml:"dnscheck"`
}

// Error is a configuration problem, naming the file, the line when known and the key.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.File != "" {
		b.WriteString(" " + e.File)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// Defaults returns the configuration of a fresh install.
func Defaults() *Config {
	return &Config{
		Network: Network{Resolver: "system"},
		TLS:     TLS{ClientHello: "chrome"},
		Storage: Storage{Dir: DefaultDataDir()},
	}
}

// Load reads path. With explicit=false a missing file yields the defaults (the
// per-user file need not exist); with explicit=true (--config) it is an error.
func Load(path string, explicit bool) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !explicit {
			return Defaults(), nil
		}
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read: %v", err)}
	}
	cfg, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	cfg.Path = path
	return cfg, nil
}

// Parse decodes TOML text; name is used in error messages. Unknown keys are errors:
// a misspelt key silently ignored would run a probe with settings nobody chose.
func Parse(data []byte, name string) (*Config, error) {
	cfg := Defaults()
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(cfg)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
		}
		// QUIRK: BurntSushi/toml reports type mismatches as plain errors whose text
		// carries the line and key; recover them so the message names both.
		if m := decodeErrPattern.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, &Error{File: name, Line: line, Key: m[2], Msg: m[3]}
		}
		return nil, &Error{File: name, Msg: err.Error()}
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		key := undecoded[0].String()
		return nil, &Error{File: name, Line: lineOf(data, undecoded[0]), Key: key, Msg: "unknown key"}
	}
	if err := cfg.Validate(); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			ce.File = name
			ce.Line = lineOf(data, strings.Split(ce.Key, "."))
		}
		return nil, err
	}
	return cfg, nil
}

var decodeErrPattern = regexp.MustCompile(`line (\d+) \(last key "([^"]*)"\): (.*)`)

// lineOf finds the line where the last element of key is assigned, searching after
// its table header. It returns 0 when it cannot tell.
func lineOf(data []byte, key toml.Key) int {
	if len(key) == 0 {
		return 0
	}
	table := ""
	if len(key) > 1 {
		table = strings.Join(key[:len(key)-1], ".")
	}
	inTable := table == ""
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") {
			inTable = strings.Trim(t, "[] ") == table
			if len(key) == 1 && strings.Trim(t, "[] ") == key[0] {
				return i + 1
			}
			continue
		}
		if inTable && strings.HasPrefix(t, key[len(key)-1]) {
			rest := strings.TrimSpace(strings.TrimPrefix(t, key[len(key)-1]))
			if strings.HasPrefix(rest, "=") {
				return i + 1
			}
		}
	}
	return 0
}

// Validate checks values that TOML types cannot.
func (c *Config) Validate() error {
	if c.Probe.Country != "" && (len(c.Probe.Country) != 2 || strings.ToUpper(c.Probe.Country) != c.Probe.Country) {
		return &Error{Key: "probe.country", Msg: limits.Quote(c.Probe.Country) + " is not a two-letter upper-case country code"}
	}
	if err := limits.Check("network_name", c.Probe.NetworkName, limits.MaxNetworkNameBytes); err != nil {
		return &Error{Key: "probe.network_name", Msg: err.Error()}
	}
	if c.Probe.ASN != "" && !validASN(c.Probe.ASN) {
		return &Error{Key: "probe.asn", Msg: limits.Quote(c.Probe.ASN) + " is not of the form AS1234"}
	}
	for _, r := range []struct{ key, val string }{{"network.resolver", c.Network.Resolver}, {"network.second_resolver", c.Network.SecondResolver}} {
		if err := ValidateResolver(r.val); err != nil && !(r.val == "" && r.key == "network.second_resolver") {
			return &Error{Key: r.key, Msg: err.Error()}
		}
	}
	if h := c.TLS.ClientHello; h != "" && h != "chrome" && h != "go" {
		return &Error{Key: "tls.client_hello", Msg: limits.Quote(h) + " is not one of chrome, go"}
	}
	for _, h := range c.Control.Helpers {
		if u, err := url.Parse(h); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &Error{Key: "control.helpers", Msg: limits.Quote(h) + " is not an http:// or https:// URL"}
		}
	}
	for _, r := range c.Control.HelperRoutes {
		if err := r.Upload().Validate(); err != nil {
			return &Error{Key: "control.helper_routes", Msg: err.Error()}
		}
	}
	if n := c.Control.BenignSNI; n != "" && (strings.ContainsAny(n, " /:[]") || !strings.Contains(n, ".") || func() bool { _, err := netip.ParseAddr(n); return err == nil }()) {
		return &Error{Key: "control.benign_sni", Msg: limits.Quote(n) + " is not a host name"}
	}
	for _, e := range c.Canaries.Allowlisted {
		if t := strings.TrimSpace(e); t == "" || strings.ContainsAny(t, " \t") {
			return &Error{Key: "canaries.allowlisted", Msg: limits.Quote(e) + " is not a URL, host name or IP:port"}
		}
	}
	if c.Upload.Enabled && len(c.Upload.Routes()) == 0 {
		return &Error{Key: "upload.collector", Msg: "upload is enabled but no collector URL is set"}
	}
	for _, r := range c.Upload.Collectors {
		if err := r.Upload().Validate(); err != nil {
			return &Error{Key: "upload.collectors", Msg: err.Error()}
		}
	}
	if c.Upload.Collector != "" {
		if u, err := url.Parse(c.Upload.Collector); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &Error{Key: "upload.collector", Msg: limits.Quote(c.Upload.Collector) + " is not an http:// or https:// URL"}
		}
	}
	if c.Run.Parallelism < 0 || c.Run.Parallelism > 1000 {
		return &Error{Key: "run.parallelism", Msg: fmt.Sprintf("%d is outside 0..1000", c.Run.Parallelism)}
	}
	if c.Run.Timeout < 0 || c.Run.Timeout > 300 {
		return &Error{Key: "run.timeout", Msg: fmt.Sprintf("%g is outside 0..300 seconds", c.Run.Timeout)}
	}
	if c.Run.Retries < 0 || c.Run.Retries > 20 {
		return &Error{Key: "run.retries", Msg: fmt.Sprintf("%d is outside 0..20", c.Run.Retries)}
	}
	if d := c.Storage.KeepUploadedDays; d < -1 || d > 36500 {
		return &Error{Key: "storage.keep_uploaded_days", Msg: fmt.Sprintf("%d is outside -1..36500 (-1: keep forever, 0: four weeks)", d)}
	}
	return nil
}

func validASN(s string) bool {
	// At most ten digits: the collector's bound (an ASN is a 32-bit number).
	if !strings.HasPrefix(s, "AS") || len(s) < 3 || len(s) > 12 {
		return false
	}
	for _, r := range s[2:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// ValidateResolver checks a resolver setting: "system" or udp://, tcp://, tls://
// with an IP:port, or an https:// URL.
func ValidateResolver(s string) error {
	if s == "system" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%s is not a resolver URL", limits.Quote(s))
	}
	switch u.Scheme {
	case "udp", "tcp", "tls":
		if _, err := netip.ParseAddrPort(u.Host); err != nil {
			return fmt.Errorf("%s: want %s://IP:PORT", limits.Quote(s), u.Scheme)
		}
	case "https":
		if u.Host == "" {
			return fmt.Errorf("%s: DNS over HTTPS needs a host", limits.Quote(s))
		}
	default:
		return fmt.Errorf("%s: want system, udp://IP:PORT, tcp://IP:PORT, tls://IP:PORT or https://HOST/PATH", limits.Quote(s))
	}
	return nil
}
