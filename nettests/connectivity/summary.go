package connectivity

import (
	"fmt"
	"strings"
)

// reasonText says in words what each reason means, for the one-line summary.
var reasonText = map[string]string{
	ReasonAllCanariesAnswer: "canaries answer",
	ReasonNoInterface:       "no usable network interface",
	ReasonNoRoute:           "no default route",
	ReasonFirstHopSilent:    "neither the gateway nor the resolver answers",
	ReasonLocalUnmeasured:   "the resolver does not answer and this OS offers no way to probe the gateway",
	ReasonAllCanariesSilent: "the local network works but no canary answers",
	ReasonForeignCut:        "domestic canaries answer, foreign ones do not",
	ReasonAllowlistedOnly:   "only allowlisted canaries (state portal, banks) answer",
	ReasonFlapping:          "reachability flips between rounds",
	ReasonLoss:              "a large share of canary attempts fails",
	ReasonSlow:              "canaries answer but downloads crawl",
}

// Summary is the verdict and its evidence on one line: the ratio per class and
// protocol over all rounds, the local checks, throughput, rounds and duration.
func (tk *TestKeys) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", tk.Verdict, reasonText[tk.Reason])
	for _, class := range []string{ClassDomestic, ClassAllowlisted, ClassForeign} {
		ratios, ok := tk.Ratios[class]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, " | %s", class)
		for _, p := range []string{ProtoDNS, ProtoTCP, ProtoTLS, ProtoQUIC, ProtoHTTP} {
			if t, ok := ratios[p]; ok && t.Attempts > 0 {
				fmt.Fprintf(&b, " %s %d/%d", p, t.OK, t.Attempts)
			}
		}
	}
	fmt.Fprintf(&b, " | %s", tk.Local.describe())
	if tp := tk.Throughput; tp != nil && tp.MedianKbps != nil {
		fmt.Fprintf(&b, " | %.0f kbit/s", *tp.MedianKbps)
	}
	if n := len(tk.Excluded); n > 0 {
		fmt.Fprintf(&b, " | %d excluded", n)
	}
	fmt.Fprintf(&b, " | %d round%s, %.1fs", len(tk.RoundStarts), plural(len(tk.RoundStarts)), tk.Duration)
	return b.String()
}

func (l LocalChecks) describe() string {
	var parts []string
	switch {
	case l.Interface != nil && !*l.Interface:
		parts = append(parts, "no interface")
	case l.DefaultRoute != nil && !*l.DefaultRoute:
		parts = append(parts, "no route")
	case l.FirstHopAlive():
		parts = append(parts, "gateway up")
	case l.FirstHop.Forwards:
		parts = append(parts, "gateway silent but forwards")
	case len(l.Gateways) > 0:
		parts = append(parts, "gateway silent")
	default:
		parts = append(parts, "gateway unknown")
	}
	switch {
	case l.Resolver.Answered && l.Resolver.LocalStub:
		parts = append(parts, "local resolver answers")
	case l.Resolver.Answered:
		parts = append(parts, "resolver answers")
	default:
		parts = append(parts, "resolver silent")
	}
	return strings.Join(parts, ", ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
