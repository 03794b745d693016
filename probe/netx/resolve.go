package netx

import "context"

// resolveHost turns a host name into IP addresses for a hop that is not pinned,
// with the Client's resolver (Client.Resolver; "" is the system resolver), recording
// the queries on trace like any other lookup of the measurement.
func (c *Client) resolveHost(ctx context.Context, trace *Trace, host string) ([]string, error) {
	res, err := c.Lookup(ctx, trace, c.Resolver, host)
	if err != nil {
		return nil, err
	}
	return res.Addrs, nil
}
