package netx

import (
	"crypto/x509"
	"time"
)

// Config is what every primitive shares: where to resolve, which roots to trust,
// which ClientHello to send, how long to wait. The zero value is usable.
type Config struct {
	// Resolver is "system" or a URL (udp://, tcp://, tls://, https://), as in the
	// configuration file.
	Resolver string
	// Roots replaces the system roots when not nil ([tls] roots).
	Roots *x509.CertPool
	// ClientHello is "chrome" (utls, the default) or "go" (crypto/tls).
	ClientHello string
	// Timeout bounds each network step (connect, handshake, one DNS exchange); zero
	// means DefaultStepTimeout.
	Timeout time.Duration

	// Dial opens TCP connections for DialTCP; nil means a net.Dialer. Tests inject
	// a func to return exact errors.
	Dial DialFunc
	// MaxIOEvents caps the read/write network_events recorded per TCP connection;
	// zero records none (see DefaultMaxIOEvents).
	MaxIOEvents int
	// Tags are copied into every event's tags.
	Tags []string
}

// DefaultStepTimeout bounds one network step when nothing better is known. Ten
// seconds is OONI's figure; nettests derive shorter budgets from round-trip times
// already seen (docs/methodology.md).
const DefaultStepTimeout = 10 * time.Second

// StepTimeout returns the configured step timeout or the default.
func (c *Config) StepTimeout() time.Duration {
	if c == nil || c.Timeout <= 0 {
		return DefaultStepTimeout
	}
	return c.Timeout
}
