package netx

import (
	"context"
	"net"
)

// resolveHost turns a host name into IP addresses for a Fetch hop that is not pinned.
// It uses the system resolver under the step timeout.
func (c *Config) resolveHost(ctx context.Context, trace *Trace, host string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.StepTimeout())
	defer cancel()
	var r net.Resolver
	return r.LookupHost(ctx, host)
}
