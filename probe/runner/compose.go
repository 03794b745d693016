package runner

import (
	"fmt"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/connectivity"
	"github.com/vantage-probe/vantage/nettests/registry"
	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/probe/netstate"
	"github.com/vantage-probe/vantage/testlists"
)

// Compose sets up the run of one nettest from its descriptor: the measurer and,
// when the descriptor is gated, the connectivity checks before and after the
// inputs, the live network state handed to the nettest (env.Network) and the keys
// of inputs skipped while the network is down. file is the configuration file the
// descriptor's constructor maps into the nettest's own configuration.
func (r *Runner) Compose(d registry.Descriptor, file *config.Config, env *nettests.Env) error {
	if d.Gated {
		cfg := registry.ConnectivityConfig(file)
		status, err := netstate.New(env, cfg)
		if err != nil {
			return fmt.Errorf("run %s: %w", d.Name, err)
		}
		env.Network = status
		conn, err := connectivity.New(env, cfg)
		if err != nil {
			return fmt.Errorf("run %s: %w", d.Name, err)
		}
		r.Connectivity, r.Network, r.Skipped = conn, status, d.Skipped
	}
	m, err := d.New(file, env)
	if err != nil {
		return fmt.Errorf("run %s: %w", d.Name, err)
	}
	r.Measurer = m
	return nil
}

// PlanInputs applies the descriptor's input kind to the inputs given on the
// command line (--input, then --input-file). URLs are checked and repeats dropped;
// nil means "the test list", chosen once the country is known. Endpoints need at
// least one input and keep repeats. A nettest of the network itself gets one empty
// input when none is given.
func PlanInputs(d registry.Descriptor, given []string) ([]string, error) {
	switch d.Input {
	case registry.InputURLs:
		for _, in := range given {
			if err := testlists.CheckURL(in); err != nil {
				return nil, fmt.Errorf("run: --input: %w", err)
			}
		}
		if len(given) == 0 {
			return nil, nil
		}
		return dedupe(given), nil
	case registry.InputNone:
		if len(given) == 0 {
			return []string{""}, nil
		}
	default:
		if len(given) == 0 {
			return nil, fmt.Errorf("run %s: no input (use --input or --input-file)", d.Name)
		}
	}
	// QUIRK: repeated inputs of a single nettest are kept: measuring one endpoint
	// many times is a legitimate use (and the storage tests rely on it).
	return given, nil
}

// dedupe keeps the first of each input, in order.
func dedupe(in []string) []string {
	var set testlists.URLSet
	for _, v := range in {
		set.Add(v)
	}
	return set.List()
}
