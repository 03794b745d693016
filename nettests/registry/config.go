package registry

import (
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/connectivity"
	dnsnettest "github.com/vantage-probe/vantage/nettests/dns"
	httpnettest "github.com/vantage-probe/vantage/nettests/http"
	"github.com/vantage-probe/vantage/nettests/http3"
	"github.com/vantage-probe/vantage/nettests/tcpconnect"
	"github.com/vantage-probe/vantage/nettests/tlshandshake"
	"github.com/vantage-probe/vantage/nettests/webconnectivity"
	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/report/upload"
)

// This file maps the configuration file into each nettest's own Config: the one
// place that knows both the file's schema and the nettests' settings.

// ConnectivityConfig is the connectivity test's configuration from the file:
// [canaries] when set, else the embedded sets for [probe] country; the [network]
// resolver, to tell a loopback stub from a real resolver.
func ConnectivityConfig(file *config.Config) connectivity.Config {
	if file == nil {
		return connectivity.Config{}
	}
	return connectivity.Config{
		Country:  file.Probe.Country,
		Resolver: file.Network.Resolver,
		Canaries: connectivity.CanaryLists{
			Domestic: file.Canaries.Domestic, Allowlisted: file.Canaries.Allowlisted, Foreign: file.Canaries.Foreign,
		},
	}
}

// WebConnectivityConfig is web_connectivity's configuration from the file
// ([control] helpers, helper_routes and benign_sni, [network] second_resolver, [run] timeout and
// retries); the nettest fills the defaults.
func WebConnectivityConfig(file *config.Config) webconnectivity.Config {
	cfg := webconnectivity.Config{QUIC: true}
	if file == nil {
		return cfg
	}
	cfg.Helpers = append(cfg.Helpers, file.Control.Helpers...)
	for _, r := range file.Control.HelperRoutes {
		// A fronted or proxied helper is addressed by its route's base URL; the
		// control client's RouteTransport carries it.
		cfg.ControlRoutes = append(cfg.ControlRoutes, r.Upload())
		cfg.Helpers = append(cfg.Helpers, upload.RouteBase(r.Upload()))
	}
	cfg.SecondResolver = file.Network.SecondResolver
	cfg.BenignSNI = file.Control.BenignSNI
	cfg.Retries = file.Run.Retries
	if file.Run.Timeout > 0 {
		t := time.Duration(file.Run.Timeout * float64(time.Second))
		cfg.Timeouts = webconnectivity.FixedTimeouts(t)
	}
	return cfg
}

// DNSConfig is the dns test's configuration: the resolver of the environment's
// netx client, else the file's [network] resolver, else the system's.
func DNSConfig(file *config.Config, env *nettests.Env) dnsnettest.Config {
	var cfg dnsnettest.Config
	if (env == nil || env.Netx == nil || env.Netx.Resolver == "") && file != nil {
		cfg.Resolver = file.Network.Resolver
	}
	return cfg
}

func newConnectivity(file *config.Config, env *nettests.Env) (nettests.Measurer, error) {
	return measurer(connectivity.New(env, ConnectivityConfig(file)))
}

func newWebConnectivity(file *config.Config, env *nettests.Env) (nettests.Measurer, error) {
	return measurer(webconnectivity.NewWithConfig(env, WebConnectivityConfig(file)))
}

func newDNS(file *config.Config, env *nettests.Env) (nettests.Measurer, error) {
	return measurer(dnsnettest.NewWithConfig(env, DNSConfig(file, env)))
}

func newHTTP(_ *config.Config, env *nettests.Env) (nettests.Measurer, error) {
	return measurer(httpnettest.New(env))
}

func newHTTP3(_ *config.Config, env *nettests.Env) (nettests.Measurer, error) {
	return measurer(http3.New(env))
}

func newTCPConnect(_ *config.Config, env *nettests.Env) (nettests.Measurer, error) {
	return measurer(tcpconnect.New(env))
}

func newTLSHandshake(_ *config.Config, env *nettests.Env) (nettests.Measurer, error) {
	return measurer(tlshandshake.New(env))
}

// measurer returns a nettest's concrete measurer as the interface, and no typed
// nil beside an error.
func measurer[M nettests.Measurer](m M, err error) (nettests.Measurer, error) {
	if err != nil {
		return nil, err
	}
	return m, nil
}
