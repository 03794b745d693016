package connectivity

import (
	"slices"
	"sort"

	"github.com/vantage-probe/vantage/nettests"
)

// Thresholds of the network verdict. The reasons and sources are in
// docs/methodology-network.md; every one is a starting point to calibrate on data
// (detection-methods.md §7: "all thresholds are starting points").
const (
	// OnlineRatio is the share of canary attempts that must succeed, in every class,
	// for the network to be called online. detection-methods.md §7 puts the partial
	// band at (5 %, 80 %); up to a fifth of attempts lost is ordinary radio or Wi-Fi
	// loss, which must not read as a shutdown.
	OnlineRatio = 0.80
	// DownRatio is the share at or below which a round counts as down. Kazakhstan on
	// 5 January 2022 fell to about 2 % of ordinary traffic (NetBlocks, via
	// ict-online; detection-methods.md §1.1): a shutdown that leaks a little must
	// still read as a shutdown. §7 suggests the same 5 %.
	DownRatio = 0.05
	// ForeignCutMax is the share of foreign attempts at or below which the foreign
	// class counts as cut while domestic canaries answer (whitelist rule of
	// detection-methods.md §7: ≤ 10 % of foreign canaries OK).
	ForeignCutMax = 0.10
	// DomesticAliveMin is the share of domestic canaries that must answer in every
	// round for a foreign cut to be called whitelist. The January 2022 allowlist let only "a few media sites and
	// Kaspi services" through (ict-online; §1.1), so most domestic canaries may fail:
	// one canary in four answering in every round is not an accident.
	DomesticAliveMin = 0.25
	// DomesticCutMax is the share of ordinary domestic attempts at or below which
	// the ordinary domestic class counts as cut, for the allowlist rule that rests
	// on the allowlisted canaries: detection-methods.md §7 calls whitelist_mode at
	// "≤ 10 % of D− OK, ≤ 10 % of F OK", the same bound as ForeignCutMax.
	DomesticCutMax = 0.10
	// AllowlistedAliveMin is the share of allowlisted canaries that must answer in
	// every round for an otherwise dark network to be called whitelist. An
	// allowlist spares a few services, not all of them (January 2022: "a few media
	// sites and Kaspi services", ict-online; detection-methods.md §1.1), so most
	// allowlisted canaries may fail; one in four answering in every round, as for
	// DomesticAliveMin, is no accident, and "every round" keeps a shutdown that
	// leaks (about 2 % of attempts, §1.1) or one flapping canary from reading as an
	// allowlist. Canaries are counted, not attempts, for the reason given at
	// isWhitelist.
	AllowlistedAliveMin = 0.25
	// ThrottledKbps is the median canary download rate, in kbit/s, under which an
	// otherwise online network is called throttled. Russia's 2021 throttling held
	// flows at 130–150 kbit/s (Xue et al., IMC 2021; §4.1); 256 kbit/s keeps that
	// case below with room for protocol overhead, and is below what any 3G, 4G or
	// fixed line delivers. A 2G-only (EDGE) link also falls below: see the doc.
	ThrottledKbps = 256
)

// Reasons say which rule decided the verdict (test_keys.reason).
const (
	ReasonAllCanariesAnswer = "canaries_answer"
	ReasonNoInterface       = "no_interface"
	ReasonNoRoute           = "no_default_route"
	ReasonFirstHopSilent    = "first_hop_silent"
	ReasonLocalUnmeasured   = "local_side_unmeasured"
	ReasonAllCanariesSilent = "all_canaries_silent"
	ReasonForeignCut        = "foreign_cut_domestic_up"
	ReasonAllowlistedOnly   = "only_allowlisted_answer"
	ReasonFlapping          = "reachability_flapping"
	ReasonLoss              = "canary_loss"
	ReasonSlow              = "throughput_collapse"
)

// Tally counts attempts and successes.
type Tally struct {
	OK       int `json:"ok"`
	Attempts int `json:"attempts"`
}

// Add adds o to t.
func (t *Tally) Add(o Tally) { t.OK += o.OK; t.Attempts += o.Attempts }

// Ratio is the share of successful attempts; 0 without attempts, since nothing
// reached is nothing reached.
func (t Tally) Ratio() float64 {
	if t.Attempts == 0 {
		return 0
	}
	return float64(t.OK) / float64(t.Attempts)
}

// CanaryOutcome is what one canary did in each round.
type CanaryOutcome struct {
	Canary
	// Rounds holds, per round, the tally of each protocol.
	Rounds []map[string]Tally `json:"rounds"`
	// Addrs are the addresses DNS returned for a host canary (first round that
	// resolved).
	Addrs []string `json:"addrs,omitempty"`
	// Failures holds the last failure seen per protocol, over all rounds.
	Failures map[string]string `json:"last_failures"`
}

// ProbedAddress is the IP:port the check probed this canary at: its literal, or
// the address its lookup chose (IPv4 first); "" when a host canary never resolved.
func (o CanaryOutcome) ProbedAddress() string {
	if o.Address != "" {
		return o.Address
	}
	if a := pickAddress(o.Addrs); a != "" {
		return joinHostPort(a, o.Port)
	}
	return ""
}

// total sums the canary's tallies for proto over all rounds.
func (o CanaryOutcome) total(proto string) Tally {
	var t Tally
	for _, r := range o.Rounds {
		t.Add(r[proto])
	}
	return t
}

// Evidence is everything the verdict is decided from.
type Evidence struct {
	Local    LocalChecks
	Canaries []CanaryOutcome
	Rounds   int
	// Pulses are the samples taken across the whole check, in start order.
	Pulses     []Pulse
	Throughput *Throughput
}

// Exclusion is a canary, or one protocol of it, left out of the reach ratios.
type Exclusion struct {
	Canary   string `json:"canary"`
	Protocol string `json:"protocol,omitempty"` // "" when the whole canary is left out
	Why      string `json:"why"`
}

// Analysis is the verdict and the figures it was decided from.
type Analysis struct {
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
	// Ratios are the raw tallies per class and protocol over all rounds.
	Ratios map[string]map[string]Tally `json:"ratios"`
	// Reach is, per round, the transport tally per class after exclusions, and the
	// domestic and foreign classes together under "all" (allowlisted canaries are
	// kept apart: they may be the only thing up).
	Reach []map[string]Tally `json:"reach"`
	// Excluded lists what was left out of Reach, and why.
	Excluded []Exclusion `json:"excluded"`
}

// reachAll is the key of both classes together in Analysis.Reach.
const reachAll = "all"

// Decide computes the network verdict from the evidence. It is a pure function: the
// same evidence always gives the same verdict.
func Decide(ev Evidence) Analysis {
	a := Analysis{Ratios: rawRatios(ev.Canaries), Excluded: []Exclusion{}}
	skip := exclusions(ev.Canaries)
	for _, k := range sortedKeys(skip) {
		a.Excluded = append(a.Excluded, skip[k])
	}
	a.Reach = reach(ev.Canaries, ev.Rounds, skip)
	a.Verdict, a.Reason = classify(ev, a.Reach, skip)
	return a
}

// classify applies the rules in order: whitelist on ordinary canaries → whitelist
// on allowlisted canaries → local → all down → flapping → loss → throughput →
// pulse loss → online. A lower level decides before a higher one. Allowlisted canaries speak in
// one rule only: they never count towards online, flapping or loss.
func classify(ev Evidence, rounds []map[string]Tally, skip map[string]Exclusion) (string, string) {
	_, down := countRounds(rounds, reachAll)
	allDown := down == len(rounds)
	if !allDown && isWhitelist(rounds, classAnswering(ev.Canaries, skip, len(rounds), ClassDomestic)) {
		return nettests.NetworkWhitelist, ReasonForeignCut
	}
	if onlyAllowlisted(rounds, classAnswering(ev.Canaries, skip, len(rounds), ClassAllowlisted)) {
		return nettests.NetworkWhitelist, ReasonAllowlistedOnly
	}
	// The pulses sample the time between the rounds: a run of failures beside a
	// run of successes is a flip even when every round fell in an on (or an
	// off) window.
	if v, r := pulseVerdict(ev.Pulses); v != "" {
		return v, r
	}
	if allDown {
		return allDownVerdict(ev.Local)
	}
	for _, key := range []string{reachAll, ClassDomestic, ClassForeign} {
		if up, down := countRounds(rounds, key); up > 0 && down > 0 {
			return nettests.NetworkPartialShutdown, ReasonFlapping
		}
	}
	for _, class := range []string{ClassDomestic, ClassForeign} {
		t := classTotal(rounds, class)
		if t.Attempts > 0 && t.Ratio() < OnlineRatio {
			return nettests.NetworkPartialShutdown, ReasonLoss
		}
	}
	if tp := ev.Throughput; tp != nil && tp.MedianKbps != nil && *tp.MedianKbps < ThrottledKbps {
		return nettests.NetworkThrottled, ReasonSlow
	}
	if pulsesLossy(ev.Pulses) {
		return nettests.NetworkPartialShutdown, ReasonLoss
	}
	return nettests.NetworkOnline, ReasonAllCanariesAnswer
}

// allDownVerdict tells a local failure from a shutdown when no canary answers: the
// local side must be shown to work (interface, route, and a first hop or a remote
// resolver answering) before anything is called a shutdown.
func allDownVerdict(l LocalChecks) (string, string) {
	switch {
	case l.Interface != nil && !*l.Interface:
		return nettests.NetworkLocalFailure, ReasonNoInterface
	case l.DefaultRoute != nil && !*l.DefaultRoute:
		return nettests.NetworkLocalFailure, ReasonNoRoute
	case l.FirstHopAlive() || l.Resolver.Answered && !l.Resolver.LocalStub:
		return nettests.NetworkFullShutdown, ReasonAllCanariesSilent
	case slices.Contains(l.NotMeasured, "first_hop"):
		// The gateway could not be probed on this OS, and a silence is not shown:
		// the verdict rests on the resolver alone, and says so.
		return nettests.NetworkLocalFailure, ReasonLocalUnmeasured
	default:
		return nettests.NetworkLocalFailure, ReasonFirstHopSilent
	}
}

// countRounds counts the rounds where key (a class, or reachAll) is up or down. A
// class without attempts in a round is neither.
func countRounds(rounds []map[string]Tally, key string) (up, down int) {
	for _, r := range rounds {
		if key != reachAll && r[key].Attempts == 0 {
			continue
		}
		switch ratio := r[key].Ratio(); {
		case ratio >= OnlineRatio:
			up++
		case ratio <= DownRatio:
			down++
		}
	}
	return up, down
}

// isWhitelist: the foreign class is cut over the whole check while at least
// DomesticAliveMin of the domestic canaries answer in every round. Domestic canaries
// are counted, not attempts: a dead canary spends every retry, a live one stops at
// its first success, so attempts would understate the live ones.
func isWhitelist(rounds []map[string]Tally, domesticShare []float64) bool {
	frn := classTotal(rounds, ClassForeign)
	if frn.Attempts == 0 || frn.Ratio() > ForeignCutMax || len(domesticShare) == 0 {
		return false
	}
	for _, share := range domesticShare {
		if share < DomesticAliveMin {
			return false
		}
	}
	return true
}

// onlyAllowlisted is the allowlist seen through the allowlisted canaries
// (detection-methods.md §5.4: likely-allowlisted domestic services answer, ordinary
// domestic and foreign ones do not): the foreign class is cut over the whole check
// (ForeignCutMax), so is the ordinary domestic class when there is one
// (DomesticCutMax), and at least AllowlistedAliveMin of the allowlisted canaries
// answer in every round. When ordinary canaries answer, this rule is not reached
// or fails, so the allowlisted ones change nothing.
func onlyAllowlisted(rounds []map[string]Tally, allowlistedShare []float64) bool {
	frn := classTotal(rounds, ClassForeign)
	if frn.Attempts == 0 || frn.Ratio() > ForeignCutMax || len(allowlistedShare) == 0 {
		return false
	}
	if dom := classTotal(rounds, ClassDomestic); dom.Attempts > 0 && dom.Ratio() > DomesticCutMax {
		return false
	}
	for _, share := range allowlistedShare {
		if share < AllowlistedAliveMin {
			return false
		}
	}
	return true
}

// classAnswering returns, per round, the share of the class's canaries (not
// excluded) that answered on some transport; nil without canaries of the class.
func classAnswering(cs []CanaryOutcome, skip map[string]Exclusion, rounds int, class string) []float64 {
	answered, total := make([]int, rounds), 0
	for _, c := range cs {
		if _, out := skip[exclusionKey(c.Name, "")]; out || c.Class != class {
			continue
		}
		total++
		for i, r := range c.Rounds {
			for _, p := range transportProtos {
				if i < rounds && r[p].OK > 0 {
					answered[i]++
					break
				}
			}
		}
	}
	if total == 0 {
		return nil
	}
	out := make([]float64, rounds)
	for i, n := range answered {
		out[i] = float64(n) / float64(total)
	}
	return out
}

func classTotal(rounds []map[string]Tally, class string) Tally {
	var t Tally
	for _, r := range rounds {
		t.Add(r[class])
	}
	return t
}

// rawRatios sums every protocol of every canary per class, exclusions ignored.
func rawRatios(cs []CanaryOutcome) map[string]map[string]Tally {
	out := map[string]map[string]Tally{}
	for _, c := range cs {
		if out[c.Class] == nil {
			out[c.Class] = map[string]Tally{}
		}
		for _, p := range c.Protocols() {
			t := out[c.Class][p]
			t.Add(c.total(p))
			out[c.Class][p] = t
		}
	}
	return out
}

// reach sums, per round and class, the transport tallies that are not excluded;
// "all" gathers the domestic and foreign classes only.
func reach(cs []CanaryOutcome, rounds int, skip map[string]Exclusion) []map[string]Tally {
	out := make([]map[string]Tally, rounds)
	for i := range out {
		out[i] = map[string]Tally{}
	}
	for _, c := range cs {
		if _, ok := skip[exclusionKey(c.Name, "")]; ok {
			continue
		}
		for i, r := range c.Rounds {
			if i >= rounds {
				break
			}
			for _, p := range transportProtos {
				if _, ok := skip[exclusionKey(c.Name, p)]; ok {
					continue
				}
				keys := []string{c.Class, reachAll}
				if c.Class == ClassAllowlisted {
					keys = keys[:1]
				}
				for _, key := range keys {
					t := out[i][key]
					t.Add(r[p])
					out[i][key] = t
				}
			}
		}
	}
	return out
}

// exclusions finds canaries and protocols whose failures are their own, not the
// network's. Both rules lean on canaries that answer steadily (in more than half of
// the rounds), so that a lucky success during a shutdown that leaks cannot make the
// rest of the evidence disappear:
//   - a protocol that never answered on a steady canary is that service's gap (no
//     QUIC listener, a TLS quirk);
//   - a canary that never answered while at least two peers of its class answered
//     steadily is that site's outage, as long as such canaries are few (at most a
//     quarter of the class, at least one): outages are correlated, a dead site is
//     not (detection-methods.md §7, partial-shutdown traps).
func exclusions(cs []CanaryOutcome) map[string]Exclusion {
	out := map[string]Exclusion{}
	dead := map[string][]string{}
	steady, size := map[string]int{}, map[string]int{}
	for _, c := range cs {
		size[c.Class]++
		answered := answeredRounds(c)
		if answered == 0 && transportAttempts(c) > 0 {
			dead[c.Class] = append(dead[c.Class], c.Name)
		}
		if answered*2 <= len(c.Rounds) {
			continue
		}
		steady[c.Class]++
		for _, p := range transportProtos {
			if t := c.total(p); t.Attempts > 0 && t.OK == 0 {
				out[exclusionKey(c.Name, p)] = Exclusion{Canary: c.Name, Protocol: p, Why: "never answered on this protocol while the canary answered steadily on another"}
			}
		}
	}
	for class, names := range dead {
		if steady[class] >= 2 && len(names) <= max(1, size[class]/4) {
			for _, n := range names {
				out[exclusionKey(n, "")] = Exclusion{Canary: n, Why: "never answered while its peers did: the site's outage, not the network's"}
			}
		}
	}
	return out
}

// answeredRounds counts the rounds in which some transport of c succeeded.
func answeredRounds(c CanaryOutcome) int {
	n := 0
	for _, r := range c.Rounds {
		for _, p := range transportProtos {
			if r[p].OK > 0 {
				n++
				break
			}
		}
	}
	return n
}

func transportAttempts(c CanaryOutcome) int {
	n := 0
	for _, p := range transportProtos {
		n += c.total(p).Attempts
	}
	return n
}

func exclusionKey(canary, proto string) string { return canary + "\x00" + proto }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
