// Package registry maps test names to nettest factories.
package registry

import (
	"fmt"
	"sort"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/connectivity"
	dnsnettest "github.com/vantage-probe/vantage/nettests/dns"
	httpnettest "github.com/vantage-probe/vantage/nettests/http"
	"github.com/vantage-probe/vantage/nettests/http3"
	"github.com/vantage-probe/vantage/nettests/tcpconnect"
	"github.com/vantage-probe/vantage/nettests/tlshandshake"
	"github.com/vantage-probe/vantage/nettests/webconnectivity"
)

// factories lists every nettest by test_name. Add one line per nettest package.
var factories = map[string]nettests.Factory{
	connectivity.Name:    connectivity.Factory,
	dnsnettest.Name:      dnsnettest.Factory,
	httpnettest.Name:     httpnettest.Factory,
	http3.Name:           http3.Factory,
	tcpconnect.Name:      tcpconnect.Factory,
	tlshandshake.Name:    tlshandshake.Factory,
	webconnectivity.Name: webconnectivity.Factory,
}

// Lookup returns the factory for a test name; "webconnectivity" and
// "web_connectivity" are the same test.
func Lookup(name string) (nettests.Factory, error) {
	if f, ok := factories[name]; ok {
		return f, nil
	}
	for n, f := range factories {
		if normalize(n) == normalize(name) {
			return f, nil
		}
	}
	return nil, fmt.Errorf("unknown nettest %q (known: %v)", name, Names())
}

// Names lists the registered test names, sorted.
func Names() []string {
	out := make([]string, 0, len(factories))
	for n := range factories {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func normalize(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '_' && s[i] != '-' {
			b = append(b, s[i])
		}
	}
	return string(b)
}
