// Package nettests defines the contract every nettest implements and the environment
// the runner hands it; one subpackage per nettest implements it.
package nettests

import (
	"context"
	"log/slog"
	"time"

	"github.com/vantage-probe/vantage/probe/netx"
)

// Measurer measures one input at a time.
type Measurer interface {
	// Name is the test_name, e.g. "web_connectivity".
	Name() string
	// Version is the test_version.
	Version() string
	// Run measures input, recording network events on trace, and returns the test
	// keys. It returns an error only when the test could not run at all (bad input):
	// a network failure is a result and goes into the test keys.
	Run(ctx context.Context, input string, trace *netx.Trace) (any, error)
}

// Env is everything external a nettest may use. Nettests never reach for globals:
// tests replace any of these. The configuration file is not here: the registry
// maps it into each nettest's own Config.
type Env struct {
	Netx   *netx.Client
	Logger *slog.Logger
	Now    func() time.Time
	// Network is the runner's view of the network; nil when a nettest runs alone.
	Network NetworkStatus
}
