// Package limits holds the bounds on measurement fields that both the probe and the
// collector enforce, so that the probe never measures what the collector would
// refuse for good, and the helpers that keep error messages short.
//
// It imports nothing of vantage: the probe (config, test lists, runner) and the
// collector (report/collector) both import it, and report stays independent of the
// probe.
package limits

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Bounds of the fields a measurement carries and the collector indexes. The
// collector refuses a line that exceeds one with a 400 (for good: the probe marks
// the measurement rejected), so the probe checks the same bounds where the value
// enters: the input list, the command line, the configuration.
const (
	// MaxInputBytes bounds a measurement's input (a URL for web_connectivity).
	// Browsers and CDNs refuse URLs of more than a few KiB; 8 KiB keeps every real
	// one and keeps the collector's input index small.
	MaxInputBytes = 8 << 10
	// MaxNetworkNameBytes bounds probe_network_name (config [probe] network_name or
	// what geolocation learns): operator names are a few dozen bytes.
	MaxNetworkNameBytes = 256
	// MaxUIDBytes bounds measurement_uid (the probe's are about 60 bytes).
	MaxUIDBytes = 128
	// MaxTestNameBytes bounds test_name.
	MaxTestNameBytes = 64
	// MaxVerdictBytes bounds test_keys.verdict and test_keys.method.
	MaxVerdictBytes = 64
)

// quotePrefix is how many bytes of a bad value an error message quotes: enough to
// recognise the value, never enough to flood a log or a terminal.
const quotePrefix = 40

// Quote returns s quoted for an error message: whole when short, otherwise its
// first bytes (cut at a character boundary), an ellipsis and its length.
func Quote(s string) string {
	if len(s) <= quotePrefix {
		return strconv.Quote(s)
	}
	cut := quotePrefix
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// TooLongError says that a value exceeds its bound.
type TooLongError struct {
	Field string // what the value is, e.g. "input" or "probe.network_name"
	Len   int    // its length in bytes
	Max   int    // the bound
	Value string // its first bytes, quoted (Quote)
}

func (e *TooLongError) Error() string {
	return fmt.Sprintf("%s is %d bytes, longer than the limit of %d shared with the collector: %s", e.Field, e.Len, e.Max, e.Value)
}

// Check returns a *TooLongError when value is longer than max bytes.
func Check(field, value string, max int) error {
	if len(value) <= max {
		return nil
	}
	return &TooLongError{Field: field, Len: len(value), Max: max, Value: Quote(value)}
}
