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
// target file, "" keeping the embedded list.

func targets(file *config.Config) config.Targets {
	if file == nil {
		return config.Targets{}
	}
	return file.Targets
}

func newWhatsApp(file *config.Config, env *nettests.Env) (nettests.Measurer, error) {
	return measurer(whatsapp.New(env, whatsapp.Config{Targets: targets(file).WhatsApp}))
}

func newTelegram(file *config.Config, env *nettests.Env) (nettests.Measurer, error) {
	return measurer(telegram.New(env, telegram.Config{Targets: targets(file).Telegram}))
}

func newSignal(file *config.Config, env *nettests.Env) (nettests.Measurer, error) {
	return measurer(signal.New(env, signal.Config{Targets: targets(file).Signal}))
}

func newFacebookMessenger(file *config.Config, env *nettests.Env) (nettests.Measurer, error) {
	return measurer(facebookmessenger.New(env, facebookmessenger.Config{Targets: targets(file).FacebookMessenger}))
}

func newTor(file *config.Config, env *nettests.Env) (nettests.Measurer, error) {
	return measurer(tor.New(env, tor.Config{Targets: targets(file).Tor}))
}

func newDNSCheck(file *config.Config, env *nettests.Env) (nettests.Measurer, error) {
	return measurer(dnscheck.New(env, dnscheck.Config{Targets: targets(file).DNSCheck}))
}
