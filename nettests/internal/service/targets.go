// Package service holds what the messaging and circumvention nettests share: their
// target lists as data, the measured steps of one endpoint, the per-endpoint
// verdict and the service verdict (docs/methodology-services.md).
package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"

	"github.com/vantage-probe/vantage/probe/netx"
)

// Target is one endpoint a service really uses, as data: the embedded defaults
// name where each entry comes from, and a volunteer or the lab replaces the list
// (config [targets]).
type Target struct {
	// ID names the endpoint in the test keys ("e1.whatsapp.net:5222", "moria1/or").
	ID string `json:"id"`
	// Role groups endpoints that serve the same purpose for the app ("chat",
	// "web"): the service verdict is decided per role.
	Role string `json:"role"`
	// Host is the DNS name (also the SNI and Host header) or an IP literal.
	Host string `json:"host"`
	Port int    `json:"port"`
	// Addr, when set, is the IP used instead of resolving Host: the lab's
	// addresses, or a bridge's.
	Addr string `json:"addr,omitempty"`
	// Path is the request path of an HTTP(S) target; "" for connect-only ones.
	Path string `json:"path,omitempty"`
	// Source says where the entry comes from (a spec, a vendor's page).
	Source string `json:"source"`
}

// List is a nettest's target file.
type List struct {
	Targets []Target `json:"targets"`
	// CAPEM, for signal, is the pinned CA (PEM) its hosts must chain to.
	CAPEM string `json:"ca_pem,omitempty"`
	// Prefixes, for facebook_messenger, are the address prefixes of the service's
	// ASN (DNS answers inside them are "consistent" in OONI's sense).
	Prefixes []string `json:"prefixes,omitempty"`
	// Names, for dnscheck, are the test names each resolver is asked.
	Names []string `json:"names,omitempty"`
	// Source says where the list as a whole comes from.
	Source string `json:"source,omitempty"`
}

// ErrBadTargets is wrapped by every error about a target file.
var ErrBadTargets = errors.New("bad target list")

// Load returns the override file when path is set, else the embedded defaults.
// A file that cannot be read or checked is an error naming it: a volunteer's list
// silently replaced by the defaults would measure something else than asked.
func Load(nettest string, embedded []byte, path string) (*List, error) {
	raw, where := embedded, "embedded targets"
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %w", nettest, ErrBadTargets, err)
		}
		raw, where = b, path
	}
	l, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", nettest, where, err)
	}
	return l, nil
}

// Parse decodes and checks a target file.
func Parse(raw []byte) (*List, error) {
	var l List
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTargets, err)
	}
	if len(l.Targets) == 0 {
		return nil, fmt.Errorf("%w: no targets", ErrBadTargets)
	}
	seen := map[string]bool{}
	for i, t := range l.Targets {
		if err := t.check(); err != nil {
			return nil, fmt.Errorf("%w: targets[%d] (%q): %w", ErrBadTargets, i, t.ID, err)
		}
		if seen[t.ID] {
			return nil, fmt.Errorf("%w: targets[%d]: id %q repeated", ErrBadTargets, i, t.ID)
		}
		seen[t.ID] = true
	}
	for i, p := range l.Prefixes {
		if _, _, err := net.ParseCIDR(p); err != nil {
			return nil, fmt.Errorf("%w: prefixes[%d]: %w", ErrBadTargets, i, err)
		}
	}
	for i, n := range l.Names {
		if err := netx.CheckHostname(n); err != nil {
			return nil, fmt.Errorf("%w: names[%d]: %w", ErrBadTargets, i, err)
		}
	}
	return &l, nil
}

func (t Target) check() error {
	switch {
	case t.ID == "":
		return errors.New("no id")
	case t.Role == "":
		return errors.New("no role")
	case t.Port < 1 || t.Port > 65535:
		return fmt.Errorf("bad port %d", t.Port)
	case t.Addr != "" && net.ParseIP(t.Addr) == nil:
		return fmt.Errorf("addr %q is not an IP address", t.Addr)
	}
	if t.Path != "" {
		if _, err := url.ParseRequestURI(t.Path); err != nil || t.Path[0] != '/' {
			return fmt.Errorf("path %q must start with /", t.Path)
		}
	}
	return netx.CheckHostname(t.Host)
}

// Dial is the IP:port (or host:port when Host must be resolved) to connect to.
func (t Target) dialHost() string {
	if t.Addr != "" {
		return t.Addr
	}
	return t.Host
}
