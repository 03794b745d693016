package registry

import (
	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/dnscheck"
	"github.com/vantage-probe/vantage/nettests/facebookmessenger"
	"github.com/vantage-probe/vantage/nettests/signal"
	"github.com/vantage-probe/vantage/nettests/telegram"
	"github.com/vantage-probe/vantage/nettests/tor"
	"github.com/vantage-probe/vantage/nettests/whatsapp"
	"github.com/vantage-probe/vantage/probe/config"
)

// This file maps [targets] into the service nettests' Config: each takes its
// target file, "" keeping the embedded list, or else a list fetched from the
// collector (nil: none).

// TargetsConstructor builds a service nettest on a fetched target list in place
// of its embedded one; the [targets] file, when set, still wins.
type TargetsConstructor func(file *config.Config, env *nettests.Env, fetched []byte) (nettests.Measurer, error)

func targets(file *config.Config) config.Targets {
	if file == nil {
		return config.Targets{}
	}
	return file.Targets
}

// TargetsFile is the [targets] file configured for a nettest ("" for none).
func TargetsFile(file *config.Config, name string) string {
	t := targets(file)
	return map[string]string{
		whatsapp.Name: t.WhatsApp, telegram.Name: t.Telegram, signal.Name: t.Signal,
		facebookmessenger.Name: t.FacebookMessenger, tor.Name: t.Tor, dnscheck.Name: t.DNSCheck,
	}[name]
}

// EmbeddedTargets is the embedded target list (JSON) of a nettest that measures
// its own, as the collector serves it (GET /api/v1/targets/{nettest}); false for
// any other name.
func EmbeddedTargets(name string) ([]byte, bool) {
	for _, d := range descriptors {
		if d.Name == name && d.Targets != nil {
			return d.Targets(), true
		}
	}
	return nil, false
}

func plain(c TargetsConstructor) Constructor {
	return func(file *config.Config, env *nettests.Env) (nettests.Measurer, error) { return c(file, env, nil) }
}

func newWhatsApp(file *config.Config, env *nettests.Env, fetched []byte) (nettests.Measurer, error) {
	return measurer(whatsapp.New(env, whatsapp.Config{Targets: targets(file).WhatsApp, Fetched: fetched}))
}

func newTelegram(file *config.Config, env *nettests.Env, fetched []byte) (nettests.Measurer, error) {
	return measurer(telegram.New(env, telegram.Config{Targets: targets(file).Telegram, Fetched: fetched}))
}

func newSignal(file *config.Config, env *nettests.Env, fetched []byte) (nettests.Measurer, error) {
	return measurer(signal.New(env, signal.Config{Targets: targets(file).Signal, Fetched: fetched}))
}

func newFacebookMessenger(file *config.Config, env *nettests.Env, fetched []byte) (nettests.Measurer, error) {
	return measurer(facebookmessenger.New(env, facebookmessenger.Config{Targets: targets(file).FacebookMessenger, Fetched: fetched}))
}

func newTor(file *config.Config, env *nettests.Env, fetched []byte) (nettests.Measurer, error) {
	return measurer(tor.New(env, tor.Config{Targets: targets(file).Tor, Fetched: fetched}))
}

func newDNSCheck(file *config.Config, env *nettests.Env, fetched []byte) (nettests.Measurer, error) {
	return measurer(dnscheck.New(env, dnscheck.Config{Targets: targets(file).DNSCheck, Fetched: fetched}))
}
