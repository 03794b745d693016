package service

import (
	"context"
	"sync"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
)

// DefaultParallelism is how many endpoints of one service are measured at once.
// Eight keeps WhatsApp's 32 endpoints to four waves of one step timeout at worst
// (a black-holed service), while a clean network finishes in about one round trip
// per wave.
const DefaultParallelism = 8

// DefaultTimeout bounds one step of one endpoint. The apps' servers answer a
// healthy network in well under a second; five seconds leaves room for a slow
// mobile link and keeps a black-holed service to a few waves of it.
const DefaultTimeout = 5 * time.Second

// MeasureAll runs measure on every target, at most DefaultParallelism at once,
// and returns the endpoints in the targets' order. Every goroutine is waited for.
func MeasureAll(ctx context.Context, targets []Target, measure func(context.Context, Target) Observation) []Endpoint {
	out := make([]Endpoint, len(targets))
	sem := make(chan struct{}, DefaultParallelism)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = NewEndpoint(t, measure(ctx, t))
		}()
	}
	wg.Wait()
	return out
}

// StepConfig is the environment's netx configuration with the service step
// timeout when the environment sets none.
func StepConfig(env *nettests.Env) *netx.Config {
	c := netx.Config{}
	if env != nil && env.Netx != nil {
		c = *env.Netx
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	return &c
}

// NetworkReason is the reason the environment's network status gives to make
// failures inconclusive: none when nothing failed or no status is known; the
// network's own reason when it is down; network_unknown when canaries do not
// answer right now (a shutdown that began during the measurement).
func NetworkReason(ctx context.Context, env *nettests.Env, eps []Endpoint) string {
	if env == nil || env.Network == nil {
		return ""
	}
	failed := false
	for _, e := range eps {
		failed = failed || e.Failure != nil
	}
	if !failed {
		return ""
	}
	if r := nettests.NetworkDownReason(env.Network.Verdict()); r != "" {
		return r
	}
	if !env.Network.CanariesUp(ctx) {
		return nettests.ReasonNetworkUnknown
	}
	return ""
}

