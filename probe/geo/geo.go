// Package geo decides where a probe is (probe_cc, probe_asn, network name) without
// ever blocking a run and without ever storing the probe's public address.
//
// Sources, in order of precedence, field by field: the configuration file ([probe]
// country, asn, network_name); the control helper's view of the probe's public
// address (x_client_cc, x_client_asn, x_client_network_name, when the helper was
// given an .mmdb file); the last values seen on this network (remembered in the local
// store under a network key); else ZZ and AS0, OONI's "unknown".
package geo

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report"
)

// Unknown values, as OONI writes them (one spelling, in the data format).
const (
	UnknownCC  = report.UnknownCC
	UnknownASN = report.UnknownASN
)

// Sources a Location's fields may come from.
const (
	SourceConfig  = "config"
	SourceHelper  = "helper"
	SourceNetwork = "network_memory"
	SourceUnknown = "unknown"
)

// DefaultLookupTimeout bounds the question to the helper. The helper fetches the URL
// it is given before it answers; five seconds lets an ordinary page through, and on
// a network where the helper is slow or unreachable the run goes on with the next
// source instead of waiting.
const DefaultLookupTimeout = 5 * time.Second

// Location is where the probe is. ClientIP is the public address the helper saw: it
// is for scrubbing (runner.Origin.Scrub) and must never be stored or printed.
type Location struct {
	CC          string
	ASN         string
	NetworkName string
	// Source says where CC came from (one of the Source constants).
	Source string
	// NetworkKey identifies the local network ("" when it cannot be told).
	NetworkKey string
	ClientIP   string
}

// Memory remembers what was learnt about a network; *store.Store implements it.
type Memory interface {
	NetworkInfo(ctx context.Context, key string) (*store.NetworkInfo, error)
	SetNetworkInfo(ctx context.Context, info store.NetworkInfo) error
}

var _ Memory = (*store.Store)(nil)

// Locator finds the probe's location. Every field is optional.
type Locator struct {
	// Country, ASN and NetworkName are the configuration's overrides.
	Country, ASN, NetworkName string
	// Helpers are control helper URLs; the first that answers is used.
	Helpers []string
	HTTP    *http.Client
	// Timeout bounds the helper lookup; zero means DefaultLookupTimeout.
	Timeout time.Duration
	Memory  Memory
	// NetworkKey names the current network; nil means DefaultNetworkKey.
	NetworkKey func() string
	Now        func() time.Time
	Logger     *slog.Logger
}

// Locate returns the best location it can find. probeURL is an ordinary URL of the
// run that the helper may fetch while answering (the helper protocol has no
// address-only question); "" skips the helper. Locate never fails: a source that
// does not answer is skipped.
func (l *Locator) Locate(ctx context.Context, probeURL string) Location {
	loc := Location{CC: l.Country, ASN: l.ASN, NetworkName: l.NetworkName}
	if loc.CC != "" {
		loc.Source = SourceConfig
	}
	keyFn := l.NetworkKey
	if keyFn == nil {
		keyFn = DefaultNetworkKey
	}
	loc.NetworkKey = keyFn()
	if loc.CC != "" && loc.ASN != "" {
		return loc
	}
	if view, ok := l.askHelpers(ctx, probeURL); ok {
		loc.ClientIP = view.ClientIP
		if view.CC != "" || view.ASN != "" {
			l.remember(ctx, loc.NetworkKey, view)
			fill(&loc, view.CC, view.ASN, view.NetworkName, SourceHelper)
		}
	}
	if (loc.CC == "" || loc.ASN == "") && l.Memory != nil && loc.NetworkKey != "" {
		if info, err := l.Memory.NetworkInfo(ctx, loc.NetworkKey); err != nil {
			l.logger().Warn("geo: network memory unreadable", "err", err)
		} else if info != nil {
			fill(&loc, info.ProbeCC, info.ProbeASN, info.Name, SourceNetwork)
		}
	}
	if loc.CC == "" {
		loc.CC, loc.Source = UnknownCC, SourceUnknown
	}
	if loc.ASN == "" {
		loc.ASN = UnknownASN
	}
	return loc
}

// fill sets the fields loc does not have yet.
func fill(loc *Location, cc, asn, name, source string) {
	if loc.CC == "" && cc != "" {
		loc.CC, loc.Source = cc, source
	}
	if loc.ASN == "" && asn != "" {
		loc.ASN = asn
	}
	if loc.NetworkName == "" && name != "" {
		loc.NetworkName = name
	}
}

func (l *Locator) remember(ctx context.Context, key string, v helperView) {
	if l.Memory == nil || key == "" {
		return
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	err := l.Memory.SetNetworkInfo(ctx, store.NetworkInfo{Key: key, ProbeCC: v.CC, ProbeASN: v.ASN, Name: v.NetworkName, Seen: now()})
	if err != nil {
		l.logger().Warn("geo: cannot remember network", "err", err)
	}
}

func (l *Locator) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.New(slog.DiscardHandler)
}
