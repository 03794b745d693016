package service

import (
	"context"
	"fmt"
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

// MeasureAll runs measure on every target, at most b.Parallelism at once,
// and returns the endpoints in the targets' order. Every goroutine is waited for.
func (b *Base) MeasureAll(ctx context.Context, targets []Target, measure func(context.Context, Target) Observation) []Endpoint {
	out := make([]Endpoint, len(targets))
	sem := make(chan struct{}, b.Parallelism)
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
func StepConfig(env *nettests.Env) *netx.Client {
	c := netx.Client{}
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

// Base is what every service nettest's measurer holds: the environment, its netx
// configuration with the service step timeout, and the target list.
type Base struct {
	Env  *nettests.Env
	Netx *netx.Client
	List *List
	// Parallelism is how many endpoints are measured at once.
	Parallelism int
}

// NewBase loads the target list (the override file when path is set) and
// prepares the network configuration.
// parallelism 0 means DefaultParallelism (1 makes the events' order repeatable).
func NewBase(name string, env *nettests.Env, embedded []byte, path string, parallelism int) (*Base, error) {
	l, err := Load(name, embedded, path)
	if err != nil {
		return nil, err
	}
	if parallelism <= 0 {
		parallelism = DefaultParallelism
	}
	return &Base{Env: env, Netx: StepConfig(env), List: l, Parallelism: parallelism}, nil
}

// CheckNoInput refuses an input: a service nettest measures its own target list.
func CheckNoInput(name, input string) error {
	if input != "" {
		return fmt.Errorf("%s: takes no input (its targets come from the target list), got %q", name, input)
	}
	return nil
}

// Finish judges the endpoints, decides the service verdict and stores both in k.
func (b *Base) Finish(ctx context.Context, k *Keys, roles []Role, eps []Endpoint) {
	reason := NetworkReason(ctx, b.Env, eps)
	Judge(eps, reason)
	k.Endpoints = eps
	k.Set(Decide(roles, eps, reason))
}
