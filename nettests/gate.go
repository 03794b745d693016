package nettests

// This file holds the one rule "the network is down, so this URL is
// inconclusive" (docs/methodology.md, "The network verdict gates URL verdicts").
// webconnectivity's Decide applies it with the verdict the runner knew while the
// URL was measured; the runner applies it when the network was down before the
// inputs (they are skipped) or after them (held results).

// NetworkDownReason is the inconclusive reason a network verdict imposes on every
// URL of the run: full_shutdown and local_failure are the network's failure, not
// the sites'. It is "" when URL verdicts stand (partial_shutdown has its own,
// narrower rule: a URL is blocked only when canaries answered in its window).
func NetworkDownReason(networkVerdict string) string {
	switch networkVerdict {
	case NetworkFullShutdown:
		return ReasonFullShutdown
	case NetworkLocalFailure:
		return ReasonLocalFailure
	}
	return ""
}

// GateURL returns the reason a URL verdict must take when the network gives
// networkReason (NetworkDownReason, or ReasonNetworkUnknown when the run could not
// tell), "" when the verdict stands. ok stands: a page that loaded did load,
// whatever the network did. Every other verdict becomes inconclusive with the
// network's reason, an inconclusive one included: the network's reason explains
// every URL of the run, while the URL's own (no_control, say: the helper was cut
// off too) is one of its consequences.
func GateURL(urlVerdict, networkReason string) string {
	if networkReason == "" || urlVerdict == VerdictOK {
		return ""
	}
	return networkReason
}
