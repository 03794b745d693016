// Package registry describes every nettest: its name and version, how to build it
// from the configuration file, what input it takes, whether the network verdict
// brackets it, and its group. The runner composes a run from a Descriptor alone.
package registry

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/connectivity"
	dnsnettest "github.com/vantage-probe/vantage/nettests/dns"
	"github.com/vantage-probe/vantage/nettests/dnscheck"
	"github.com/vantage-probe/vantage/nettests/facebookmessenger"
	httpnettest "github.com/vantage-probe/vantage/nettests/http"
	"github.com/vantage-probe/vantage/nettests/http3"
	"github.com/vantage-probe/vantage/nettests/signal"
	"github.com/vantage-probe/vantage/nettests/tcpconnect"
	"github.com/vantage-probe/vantage/nettests/telegram"
	"github.com/vantage-probe/vantage/nettests/tlshandshake"
	"github.com/vantage-probe/vantage/nettests/tor"
	"github.com/vantage-probe/vantage/nettests/webconnectivity"
	"github.com/vantage-probe/vantage/nettests/whatsapp"
	"github.com/vantage-probe/vantage/probe/config"
)

// InputKind says what a nettest measures, and so how the runner treats its inputs.
type InputKind string

// Input kinds.
const (
	// InputURLs: URLs from --input, --input-file or the country's test list; every
	// --input is checked as a URL and repeats are dropped.
	InputURLs InputKind = "urls"
	// InputEndpoints: what the user names (host:port, a host name, a URL); at least
	// one is required, and repeats are kept (measuring one endpoint many times is a
	// legitimate use).
	InputEndpoints InputKind = "endpoints"
	// InputNone: the nettest measures the network itself and takes no input.
	InputNone InputKind = "none"
)

// Groups of nettests (`vantage run --group`, DESIGN.md).
const (
	GroupWebsites      = "websites"
	GroupIM            = "im"
	GroupCircumvention = "circumvention"
	GroupNetwork       = "network"
)

// Constructor builds a nettest: it maps the configuration file into the nettest's
// own Config (a nettest never reads the file schema) and calls its constructor.
type Constructor func(file *config.Config, env *nettests.Env) (nettests.Measurer, error)

// Descriptor describes one nettest to the runner.
type Descriptor struct {
	Name    string // test_name
	Version string // test_version
	New     Constructor
	Input   InputKind
	Group   string
	// Gated: the runner checks the network (the connectivity test) before and after
	// the inputs, hands the nettest the live network state, skips the inputs when
	// the network is down before, and makes results inconclusive when it is down
	// after (docs/methodology.md, "The network verdict gates URL verdicts").
	Gated bool
	// Skipped builds the test keys of an input not measured because the network
	// was down; set when Gated.
	Skipped func(input, reason string) any
}

// descriptors lists every nettest. Add one entry per nettest package.
var descriptors = []Descriptor{
	{Name: connectivity.Name, Version: connectivity.Version, New: newConnectivity, Input: InputNone, Group: GroupNetwork},
	{Name: dnsnettest.Name, Version: dnsnettest.Version, New: newDNS, Input: InputEndpoints, Group: GroupNetwork},
	{Name: httpnettest.Name, Version: httpnettest.Version, New: newHTTP, Input: InputEndpoints, Group: GroupNetwork},
	{Name: http3.Name, Version: http3.Version, New: newHTTP3, Input: InputEndpoints, Group: GroupNetwork},
	{Name: tcpconnect.Name, Version: tcpconnect.Version, New: newTCPConnect, Input: InputEndpoints, Group: GroupNetwork},
	{Name: tlshandshake.Name, Version: tlshandshake.Version, New: newTLSHandshake, Input: InputEndpoints, Group: GroupNetwork},
	{Name: webconnectivity.Name, Version: webconnectivity.Version, New: newWebConnectivity, Input: InputURLs, Group: GroupWebsites,
		Gated: true, Skipped: func(input, reason string) any { return webconnectivity.SkippedTestKeys(input, reason) }},
	{Name: facebookmessenger.Name, Version: facebookmessenger.Version, New: newFacebookMessenger, Input: InputNone, Group: GroupIM,
		Gated: true, Skipped: func(_, reason string) any { return facebookmessenger.SkippedTestKeys(reason) }},
	{Name: signal.Name, Version: signal.Version, New: newSignal, Input: InputNone, Group: GroupIM,
		Gated: true, Skipped: func(_, reason string) any { return signal.SkippedTestKeys(reason) }},
	{Name: telegram.Name, Version: telegram.Version, New: newTelegram, Input: InputNone, Group: GroupIM,
		Gated: true, Skipped: func(_, reason string) any { return telegram.SkippedTestKeys(reason) }},
	{Name: tor.Name, Version: tor.Version, New: newTor, Input: InputNone, Group: GroupCircumvention,
		Gated: true, Skipped: func(_, reason string) any { return tor.SkippedTestKeys(reason) }},
	{Name: dnscheck.Name, Version: dnscheck.Version, New: newDNSCheck, Input: InputNone, Group: GroupCircumvention,
		Gated: true, Skipped: func(_, reason string) any { return dnscheck.SkippedTestKeys(reason) }},
	{Name: whatsapp.Name, Version: whatsapp.Version, New: newWhatsApp, Input: InputNone, Group: GroupIM,
		Gated: true, Skipped: func(_, reason string) any { return whatsapp.SkippedTestKeys(reason) }},
}

// Lookup returns the descriptor of a test name. Underscores and dashes do not
// count: "web_connectivity", "webconnectivity" and "web-connectivity" are the
// same test.
func Lookup(name string) (Descriptor, error) {
	for _, d := range descriptors {
		if normalize(d.Name) == normalize(name) {
			return d, nil
		}
	}
	return Descriptor{}, fmt.Errorf("unknown nettest %q (known: %v)", name, Names())
}

// MustLookup is Lookup for a name the program itself spells (a registered Name
// constant); it panics on a programming error, never on user input.
func MustLookup(name string) Descriptor {
	d, err := Lookup(name)
	if err != nil {
		panic(err)
	}
	return d
}

// Names lists the registered test names, sorted.
func Names() []string {
	out := make([]string, 0, len(descriptors))
	for _, d := range descriptors {
		out = append(out, d.Name)
	}
	sort.Strings(out)
	return out
}

// All returns every descriptor, sorted by name.
func All() []Descriptor {
	out := append([]Descriptor{}, descriptors...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func normalize(s string) string {
	return strings.NewReplacer("_", "", "-", "").Replace(s)
}

// RunGroups are the groups `vantage run --group` accepts, in the order a run
// measures them: the websites, then the messaging apps, then the escape routes.
func RunGroups() []string { return []string{GroupWebsites, GroupIM, GroupCircumvention} }

// groupOrder is the order of each group's nettests in a run and its summary.
var groupOrder = map[string][]string{
	GroupWebsites:      {webconnectivity.Name},
	GroupIM:            {whatsapp.Name, telegram.Name, signal.Name, facebookmessenger.Name},
	GroupCircumvention: {tor.Name, dnscheck.Name},
}

// Groups returns the descriptors of the named run groups, in run order (as
// RunGroups lists them, whatever the order given), each nettest once.
func Groups(names []string) ([]Descriptor, error) {
	want := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if _, ok := groupOrder[n]; !ok {
			return nil, fmt.Errorf("unknown group %q (known: %s)", n, strings.Join(RunGroups(), ", "))
		}
		want[n] = true
	}
	var out []Descriptor
	for _, g := range RunGroups() {
		if want[g] {
			for _, name := range groupOrder[g] {
				out = append(out, MustLookup(name))
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no group given (known: %s)", strings.Join(RunGroups(), ", "))
	}
	return out, nil
}
