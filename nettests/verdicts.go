package nettests

import "context"

// Per-URL verdicts (test_keys.verdict of web_connectivity): a contract with scripts
// and researchers, see DESIGN.md.
const (
	VerdictOK           = "ok"
	VerdictBlocked      = "blocked"
	VerdictThrottled    = "throttled"
	VerdictIntermittent = "intermittent"
	VerdictDown         = "down"
	VerdictInconclusive = "inconclusive"
	// VerdictDegraded is a service verdict only (the messaging and circumvention
	// nettests): some endpoints are blocked, the app may still work.
	VerdictDegraded = "degraded"
)

// ServiceVerdicts lists the service verdicts, in the order summaries show them.
func ServiceVerdicts() []string {
	return []string{VerdictOK, VerdictBlocked, VerdictDegraded, VerdictInconclusive}
}

// URLVerdicts lists the per-URL verdicts, in the order summaries show them: the one
// list every summary, check and table ranges over.
func URLVerdicts() []string {
	return []string{VerdictOK, VerdictBlocked, VerdictThrottled, VerdictIntermittent, VerdictDown, VerdictInconclusive}
}

// Blocking methods (test_keys.method), set when the verdict is blocked or intermittent.
const (
	MethodDNSNXDOMAIN     = "dns.nxdomain"
	MethodDNSBogon        = "dns.bogon"
	MethodDNSInconsistent = "dns.inconsistent"
	MethodDNSTimeout      = "dns.timeout"
	MethodDNSFailure      = "dns.failure"
	MethodDNSInjection    = "dns.injection"
	MethodTCPTimeout      = "tcp.timeout"
	MethodTCPReset        = "tcp.reset"
	MethodTCPUnreachable  = "tcp.unreachable"
	MethodTLSReset        = "tls.reset"
	MethodTLSTimeout      = "tls.timeout"
	MethodTLSEOF          = "tls.eof"
	MethodTLSMITM         = "tls.mitm"
	MethodHTTPBlockpage   = "http.blockpage"
	MethodHTTPDiff        = "http.diff"
	MethodHTTPFailure     = "http.failure"
	MethodQUICBlocked     = "quic.blocked"
)

// Reasons for an inconclusive verdict (test_keys.reason).
const (
	ReasonNoControl      = "no_control"
	ReasonFullShutdown   = "full_shutdown"
	ReasonLocalFailure   = "local_failure"
	ReasonNetworkUnknown = "network_unknown"
)

// Network verdicts (test_keys.verdict of the connectivity test).
const (
	NetworkOnline          = "online"
	NetworkFullShutdown    = "full_shutdown"
	NetworkPartialShutdown = "partial_shutdown"
	NetworkWhitelist       = "whitelist"
	NetworkLocalFailure    = "local_failure"
	NetworkThrottled       = "throttled"
)

// NetworkVerdicts lists the network verdicts, from the best to the worst.
func NetworkVerdicts() []string {
	return []string{NetworkOnline, NetworkThrottled, NetworkPartialShutdown, NetworkWhitelist, NetworkFullShutdown, NetworkLocalFailure}
}

// URLResult is implemented by test keys that carry a per-URL verdict, so that the
// runner can summarise and adjust them without knowing the nettest.
type URLResult interface {
	// URLVerdict returns the verdict and, when blocked or intermittent, the method.
	URLVerdict() (verdict, method string)
	// MarkInconclusive turns the verdict into inconclusive with the given reason;
	// the runner calls it when the network verdict makes a URL verdict meaningless
	// (full_shutdown, local_failure).
	MarkInconclusive(reason string)
}

// ServiceResult is implemented by the test keys of the messaging and
// circumvention nettests (one service per measurement), so that the runner can
// summarise and gate them without knowing the nettest.
type ServiceResult interface {
	// ServiceVerdict returns the service verdict and, when blocked or degraded,
	// what is blocked ("chat endpoints: tcp.timeout; web client: tls.reset").
	ServiceVerdict() (verdict, blocked string)
	// ServiceMethods lists the methods of the blocked endpoints, sorted.
	ServiceMethods() []string
	// MarkInconclusive turns the verdict (and every endpoint verdict but ok)
	// into inconclusive with the given reason.
	MarkInconclusive(reason string)
}

// NetworkResult is implemented by the connectivity test keys.
type NetworkResult interface {
	NetworkVerdict() string
}

// NetworkStatus tells a nettest what the runner knows of the network as a whole.
// Env.Network may be nil: a nettest then decides from its own evidence.
type NetworkStatus interface {
	// Verdict is the latest network verdict, "" before the first check.
	Verdict() string
	// CanariesUp checks quickly, now, whether canaries answer. A URL whose failures
	// are consistent while canaries answer in the same window is blocked; failures
	// while canaries fail are the network's, not the site's.
	CanariesUp(ctx context.Context) bool
}
