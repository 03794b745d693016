package webconnectivity

import (
	"bytes"
	"crypto/x509"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

//go:embed data/fingerprints.json
var fingerprintsJSON []byte

// Blockpage is one known blockpage: where it was seen and how to recognise it.
type Blockpage struct {
	Name     string       `json:"name"`
	Country  string       `json:"country"` // ISO 3166 alpha-2, ZZ when not specific
	Scope    string       `json:"scope"`   // nat, isp, prod, inst or any (OONI's scopes)
	Source   string       `json:"source"`  // public report or list that documents it
	Verified bool         `json:"verified"`
	Notes    string       `json:"notes"`
	Match    BlockMatcher `json:"match"`

	bodyRegex   *regexp.Regexp
	headerRegex *regexp.Regexp
}

// BlockMatcher says what to look for; exactly one kind is set.
type BlockMatcher struct {
	Status         int    `json:"status,omitempty"`
	BodyContains   string `json:"body_contains,omitempty"`
	BodyRegex      string `json:"body_regex,omitempty"`
	Header         string `json:"header,omitempty"`
	HeaderContains string `json:"header_contains,omitempty"`
	HeaderRegex    string `json:"header_regex,omitempty"`
}

// Interceptor is a certificate name that betrays TLS interception.
type Interceptor struct {
	Name     string             `json:"name"`
	Country  string             `json:"country"`
	Source   string             `json:"source"`
	Verified bool               `json:"verified"`
	Notes    string             `json:"notes"`
	Match    InterceptorMatcher `json:"match"`
}

// InterceptorMatcher matches a certificate's subject or issuer: NameContains against
// the whole distinguished name, case-insensitively; CommonName exactly.
type InterceptorMatcher struct {
	NameContains string `json:"name_contains,omitempty"`
	CommonName   string `json:"common_name,omitempty"`
}

// Fingerprints is the embedded data file.
type Fingerprints struct {
	Blockpages   []*Blockpage   `json:"blockpages"`
	Interceptors []*Interceptor `json:"interceptors"`
	// Traits are vague blockpage patterns (Censored Planet's "vbw" rows: "Access
	// denied", "Web Page Blocked"): too common to call a page blocked alone, they
	// corroborate a difference from the control (decide_http.go).
	Traits []*Blockpage `json:"traits"`
}

// FingerprintMatch is what the evidence says about a matched fingerprint.
type FingerprintMatch struct {
	Name     string `json:"name"`
	Country  string `json:"country"`
	Source   string `json:"source"`
	Verified bool   `json:"verified"`
}

// LoadFingerprints parses and checks a fingerprint file: every entry needs a name, a
// country, a source and exactly one matcher, and every regular expression compiles.
func LoadFingerprints(data []byte) (*Fingerprints, error) {
	var fp Fingerprints
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&fp); err != nil {
		return nil, fmt.Errorf("webconnectivity: fingerprints: %w", err)
	}
	for _, b := range fp.Blockpages {
		if err := b.compile(); err != nil {
			return nil, fmt.Errorf("webconnectivity: fingerprints: blockpage %q: %w", b.Name, err)
		}
	}
	for _, b := range fp.Traits {
		if err := b.compile(); err != nil {
			return nil, fmt.Errorf("webconnectivity: fingerprints: trait %q: %w", b.Name, err)
		}
	}
	for _, i := range fp.Interceptors {
		if err := checkEntry(i.Name, i.Country, i.Source); err != nil {
			return nil, fmt.Errorf("webconnectivity: fingerprints: interceptor %q: %w", i.Name, err)
		}
		if (i.Match.NameContains == "") == (i.Match.CommonName == "") {
			return nil, fmt.Errorf("webconnectivity: fingerprints: interceptor %q: want exactly one matcher", i.Name)
		}
	}
	return &fp, nil
}

func checkEntry(name, country, source string) error {
	switch {
	case name == "":
		return errors.New("no name")
	case len(country) != 2:
		return fmt.Errorf("country %q is not a two-letter code", country)
	case source == "":
		return errors.New("no source")
	}
	return nil
}

func (b *Blockpage) compile() error {
	if err := checkEntry(b.Name, b.Country, b.Source); err != nil {
		return err
	}
	m := b.Match
	kinds := 0
	for _, set := range []bool{m.Status != 0, m.BodyContains != "", m.BodyRegex != "", m.Header != ""} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return errors.New("want exactly one matcher")
	}
	if m.Header != "" && (m.HeaderContains == "") == (m.HeaderRegex == "") {
		return errors.New("a header matcher needs exactly one of header_contains, header_regex")
	}
	var err error
	if m.BodyRegex != "" {
		if b.bodyRegex, err = regexp.Compile(m.BodyRegex); err != nil {
			return err
		}
	}
	if m.HeaderRegex != "" {
		if b.headerRegex, err = regexp.Compile(m.HeaderRegex); err != nil {
			return err
		}
	}
	return nil
}

// defaultFingerprints is the embedded file, parsed once; a broken file fails the
// package's tests, so the error is unreachable in a released binary.
var defaultFingerprints = func() *Fingerprints {
	fp, err := LoadFingerprints(fingerprintsJSON)
	if err != nil {
		return &Fingerprints{}
	}
	return fp
}()

// DefaultFingerprints returns the embedded fingerprints.
func DefaultFingerprints() *Fingerprints { return defaultFingerprints }

// MatchBlockpage returns the first blockpage the response matches, or nil.
func (f *Fingerprints) MatchBlockpage(status int, header http.Header, body []byte) *FingerprintMatch {
	for _, b := range f.Blockpages {
		if b.matches(status, header, body) {
			return &FingerprintMatch{Name: b.Name, Country: b.Country, Source: b.Source, Verified: b.Verified}
		}
	}
	return nil
}

// MatchTrait returns the first blockpage trait the response shows, or nil.
func (f *Fingerprints) MatchTrait(status int, header http.Header, body []byte) *FingerprintMatch {
	for _, b := range f.Traits {
		if b.matches(status, header, body) {
			return &FingerprintMatch{Name: b.Name, Country: b.Country, Source: b.Source, Verified: b.Verified}
		}
	}
	return nil
}

func (b *Blockpage) matches(status int, header http.Header, body []byte) bool {
	m := b.Match
	switch {
	case m.Status != 0:
		return status == m.Status
	case m.BodyContains != "":
		return bytes.Contains(body, []byte(m.BodyContains))
	case b.bodyRegex != nil:
		return b.bodyRegex.Match(body)
	case m.Header != "":
		for _, v := range header.Values(m.Header) {
			if (m.HeaderContains != "" && strings.Contains(v, m.HeaderContains)) || (b.headerRegex != nil && b.headerRegex.MatchString(v)) {
				return true
			}
		}
	}
	return false
}

// MatchInterceptor returns the first interceptor whose name appears as the subject or
// issuer of any certificate of chain (DER), or nil. Unparseable certificates are
// skipped: a peer's bytes must never make the probe fail.
func (f *Fingerprints) MatchInterceptor(chain [][]byte) (*FingerprintMatch, string) {
	for _, der := range chain {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			continue
		}
		for _, i := range f.Interceptors {
			for _, name := range []struct{ dn, cn string }{{cert.Issuer.String(), cert.Issuer.CommonName}, {cert.Subject.String(), cert.Subject.CommonName}} {
				if i.Match.NameContains != "" && strings.Contains(strings.ToLower(name.dn), strings.ToLower(i.Match.NameContains)) ||
					i.Match.CommonName != "" && name.cn == i.Match.CommonName {
					return &FingerprintMatch{Name: i.Name, Country: i.Country, Source: i.Source, Verified: i.Verified}, cert.Issuer.String()
				}
			}
		}
	}
	return nil, ""
}
