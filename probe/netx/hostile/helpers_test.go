package hostile_test

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vantage-probe/vantage/probe/netx"
)

// Timeouts. A test that expects an attack to be ended by a timeout uses phaseTimeout:
// on loopback an honest answer takes microseconds, so a few hundred milliseconds only
// ever end an attack. A test that expects the fetch to end by a cap or a parser
// refusal uses patientTimeout, so that a loaded CI machine cannot turn the expected
// outcome into a timeout.
const (
	phaseTimeout   = 300 * time.Millisecond
	patientTimeout = 10 * time.Second
	testCap        = 1 << 20 // the probe's default body cap, netx.DefaultMaxBodyBytes
)

// shortOptions are fetch options with every phase bounded by phaseTimeout.
func shortOptions() netx.FetchOptions { return optionsWith(phaseTimeout) }

// patientOptions are fetch options with every phase bounded by patientTimeout.
func patientOptions() netx.FetchOptions { return optionsWith(patientTimeout) }

func optionsWith(d time.Duration) netx.FetchOptions {
	return netx.FetchOptions{
		MaxBodyBytes:   testCap,
		ConnectTimeout: d,
		TLSTimeout:     d,
		HeaderTimeout:  d,
		BodyTimeout:    d,
	}
}

// timeZero is the zero time of the benchmarks' traces.
var timeZero = time.Now()

func newTrace() *netx.Trace { return netx.NewTrace(time.Now(), nil) }

// allocated runs f and returns the bytes the whole process allocated meanwhile
// (runtime.MemStats.TotalAlloc): an upper bound on what f held at any moment. Tests
// of this package do not run in parallel, so the figure is f's and its server's.
func allocated(f func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// failureOf returns the classified failure string and operation of err.
func failureOf(err error) (string, string) {
	var e *netx.Error
	if errors.As(err, &e) {
		return e.Failure, e.Operation
	}
	if err == nil {
		return "", ""
	}
	return "unclassified: " + err.Error(), ""
}

// checkJSON fails t unless v marshals to valid JSON that is valid UTF-8 and returns
// the bytes.
func checkJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if !json.Valid(b) || !utf8.Valid(b) {
		t.Fatalf("event is not valid UTF-8 JSON: %q", b)
	}
	return b
}

func fetch(t *testing.T, url string, opts netx.FetchOptions) (*netx.FetchResult, error) {
	t.Helper()
	var c netx.Client
	res, err := c.Fetch(context.Background(), newTrace(), url, opts)
	if res == nil {
		t.Fatalf("Fetch returned no result (err %v)", err)
	}
	return res, err
}
