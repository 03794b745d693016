package netx_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/dnstest"
)

// TestLookupEarlyAnswer: the hook hears the lookup's addresses and error as soon as
// both first replies are in, before the duplicate window closes; the lookup still
// records the late duplicate and judges injection.
func TestLookupEarlyAnswer(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{
		"censored.test": dnstest.Injected([]string{dnsTestForgedIPv4}, dnstest.Answer(dnsTestGenuineIPv4)),
		"missing.test":  dnstest.NXDOMAIN(),
	})
	for _, host := range []string{"censored.test", "missing.test"} {
		t.Run(host, func(t *testing.T) {
			var (
				mu       sync.Mutex
				order    []string
				calls    int
				gotAddrs []string
				gotErr   error
			)
			ctx := netx.WithEarlyAnswer(context.Background(), func(addrs []string, err error) {
				mu.Lock()
				defer mu.Unlock()
				calls++
				order = append(order, "early")
				gotAddrs, gotErr = addrs, err
			})
			trace := netx.NewTrace(time.Now(), nil)
			c := &netx.Client{Timeout: 2 * dnsTestInjectWait}
			res, err := c.LookupWithOptions(ctx, trace, srv.UDPURL(), host, netx.DNSOptions{DuplicateWindow: dnsTestInjectWait})
			mu.Lock()
			order = append(order, "returned")
			mu.Unlock()
			if calls != 1 || !slices.Equal(order, []string{"early", "returned"}) {
				t.Fatalf("hook calls %d, order %v: want one call before the lookup returned", calls, order)
			}
			if !slices.Equal(gotAddrs, res.Addrs) || classify(gotErr) != classify(err) {
				t.Fatalf("early %v / %v, lookup %v / %v", gotAddrs, gotErr, res.Addrs, err)
			}
			if host != "censored.test" {
				if err == nil {
					t.Fatal("NXDOMAIN looked up without error")
				}
				return
			}
			if !res.Injected || !slices.Equal(res.Addrs, []string{dnsTestForgedIPv4}) {
				t.Fatalf("injected %v addrs %v: the window must still record the genuine reply", res.Injected, res.Addrs)
			}
			duplicates := 0
			for _, ev := range trace.Events().Queries {
				if ev.XDuplicate {
					duplicates++
				}
			}
			if duplicates == 0 {
				t.Fatal("no duplicate recorded")
			}
		})
	}
}

// TestLookupEarlyAnswerWithoutReply: a query that ends with no reply (a timeout)
// still releases the hook, with the lookup's error.
func TestLookupEarlyAnswerWithoutReply(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{"silent.test": {BlackHole: true}})
	calls := 0
	var gotErr error
	ctx := netx.WithEarlyAnswer(context.Background(), func(_ []string, err error) { calls++; gotErr = err })
	c := &netx.Client{Timeout: 300 * time.Millisecond}
	_, err := c.LookupWithOptions(ctx, netx.NewTrace(time.Now(), nil), srv.UDPURL(), "silent.test", netx.DNSOptions{Retransmit: -1})
	if err == nil || calls != 1 || classify(gotErr) != classify(err) {
		t.Fatalf("calls %d, early error %v, lookup error %v", calls, gotErr, err)
	}
}

func classify(err error) string {
	if err == nil {
		return ""
	}
	return netx.Classify(err)
}
