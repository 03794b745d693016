//go:build linux

package lab

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// NationalCAName is the issuer the TLS interceptor presents. It copies the name of
// the root Kazakhstan asked its citizens to install in 2019 (Censored Planet,
// https://censoredplanet.org/kazakhstan), so a probe that keeps a list of known
// interception issuers can recognise it.
const NationalCAName = "Qaznet Trust Network"

// Authority is a throwaway certificate authority that issues leaf certificates on
// demand, for any name or address. It is netxtest's CA (the one test CA of the
// project) with no intermediate, plus a cache: a lab serves many names.
type Authority struct {
	ca *netxtest.CA

	mu     sync.Mutex
	leaves map[string]*tls.Certificate
}

// NewAuthority creates a self-signed root named commonName.
func NewAuthority(commonName string) (*Authority, error) {
	ca, err := netxtest.NewRootCA(commonName)
	if err != nil {
		return nil, fmt.Errorf("lab: ca: %w", err)
	}
	return &Authority{ca: ca, leaves: map[string]*tls.Certificate{}}, nil
}

// PEM returns the root certificate in PEM form (the probe's [tls] roots).
func (a *Authority) PEM() []byte { return a.ca.RootPEM() }

// Leaf returns a certificate for DNS names and IP address literals (the first is
// the subject), issuing it on first use.
func (a *Authority) Leaf(sans ...string) (*tls.Certificate, error) {
	if len(sans) == 0 {
		return nil, fmt.Errorf("lab: a certificate needs a name")
	}
	key := strings.Join(sans, ",")
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.leaves[key]; ok {
		return c, nil
	}
	c, err := a.ca.Issue(sans...)
	if err != nil {
		return nil, fmt.Errorf("lab: leaf certificate for %s: %w", key, err)
	}
	a.leaves[key] = &c
	return &c, nil
}

// GetCertificate serves a certificate for the requested server name or, when the
// client sent none, for the address it connected to. The interceptor uses it: a
// MITM box forges whatever name it is asked for.
func (a *Authority) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello.ServerName != "" {
		return a.Leaf(canonicalName(hello.ServerName))
	}
	if local, ok := localAddr(hello); ok {
		return a.Leaf(local.String())
	}
	return nil, fmt.Errorf("lab: no server name and no local address")
}

// siteCertificate behaves like real hosting: the server at an address presents
// the certificate of the site that lives there (with the address as a SAN too,
// for IP-literal clients), whatever name the client asks for; an address with no
// site presents a certificate for the bare address. A lying resolver's address
// therefore fails validation for the blocked name, as it would in the wild.
func siteCertificate(a *Authority, w *World) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		local, ok := localAddr(hello)
		if !ok {
			return a.GetCertificate(hello) // no address to go by (never seen in practice)
		}
		if s, found := w.SiteAt(local); found {
			return a.Leaf(s.Name, local.String())
		}
		return a.Leaf(local.String())
	}
}

// localAddr is the address the client connected to.
func localAddr(hello *tls.ClientHelloInfo) (netip.Addr, bool) {
	if hello.Conn == nil || hello.Conn.LocalAddr() == nil {
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(hello.Conn.LocalAddr().String())
	if err != nil || ap.Addr().IsUnspecified() {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// TLSConfig returns a server configuration that issues certificates on demand
// with get (GetCertificate when nil).
func (a *Authority) TLSConfig(get func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	if get == nil {
		get = a.GetCertificate
	}
	return &tls.Config{GetCertificate: get, MinVersion: tls.VersionTLS12}
}
