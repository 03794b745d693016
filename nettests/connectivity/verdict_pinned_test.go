package connectivity

import (
	"fmt"
	"math"
	"testing"

	"github.com/vantage-probe/vantage/nettests"
)

// These cases put the evidence on each side of every threshold of
// docs/methodology-network.md §3, one at a time, with exact tallies (TCP only, so
// that a round's reach is exactly the share written), and pin each local clause of
// rules 1-4 alone (issue 22).

// tcpRounds is one canary's rounds with TCP tallies only.
func tcpRounds(tallies ...Tally) []map[string]Tally {
	out := make([]map[string]Tally, len(tallies))
	for i, t := range tallies {
		out[i] = map[string]Tally{ProtoTCP: t}
	}
	return out
}

// same repeats one tally for n rounds.
func same(t Tally, n int) []Tally {
	out := make([]Tally, n)
	for i := range out {
		out[i] = t
	}
	return out
}

func pinSet(prefix, class string, n int, rounds []map[string]Tally) []CanaryOutcome {
	var out []CanaryOutcome
	for i := 0; i < n; i++ {
		c := CanaryOutcome{Canary: Canary{Name: fmt.Sprintf("%s%d.pin", prefix, i), Class: class,
			Address: fmt.Sprintf("192.0.2.%d:443", i+1), Port: "443"}}
		for _, r := range rounds {
			cp := map[string]Tally{}
			for k, v := range r {
				cp[k] = v
			}
			c.Rounds = append(c.Rounds, cp)
		}
		out = append(out, c)
	}
	return out
}

type pinCase struct {
	name            string
	local           LocalChecks
	canaries        []CanaryOutcome
	throughput      *Throughput
	verdict, reason string
}

func runPinCases(t *testing.T, cases []pinCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rounds := 1
			for _, o := range c.canaries {
				rounds = max(rounds, len(o.Rounds))
			}
			a := Decide(Evidence{Local: c.local, Canaries: c.canaries, Rounds: rounds, Throughput: c.throughput})
			if a.Verdict != c.verdict || a.Reason != c.reason {
				t.Fatalf("verdict %s (%s), want %s (%s); reach %v, excluded %v", a.Verdict, a.Reason, c.verdict, c.reason, a.Reach, a.Excluded)
			}
		})
	}
}

var fullRound = Tally{OK: 10, Attempts: 10}

// TestVerdictOnlineRatio: OnlineRatio (80 %) over the check, each class on its own,
// and as the "up" bound of a round.
func TestVerdictOnlineRatio(t *testing.T) {
	at := func(ok int) []map[string]Tally { return tcpRounds(same(Tally{OK: ok, Attempts: 100}, 3)...) }
	full := tcpRounds(same(fullRound, 3)...)
	runPinCases(t, []pinCase{
		{"every round at 80 % is online", healthyLocal,
			join(pinSet("d", ClassDomestic, 2, at(80)), pinSet("f", ClassForeign, 2, at(80))), nil,
			nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"every round at 79 % is loss", healthyLocal,
			join(pinSet("d", ClassDomestic, 2, at(79)), pinSet("f", ClassForeign, 2, at(79))), nil,
			nettests.NetworkPartialShutdown, ReasonLoss},
		{"every round at 50 % is loss", healthyLocal,
			join(pinSet("d", ClassDomestic, 2, at(50)), pinSet("f", ClassForeign, 2, at(50))), nil,
			nettests.NetworkPartialShutdown, ReasonLoss},
		{"every round at 20 % is loss", healthyLocal,
			join(pinSet("d", ClassDomestic, 2, at(20)), pinSet("f", ClassForeign, 2, at(20))), nil,
			nettests.NetworkPartialShutdown, ReasonLoss},
		{"domestic fine, foreign at 79 % is loss", healthyLocal,
			join(pinSet("d", ClassDomestic, 4, full), pinSet("f", ClassForeign, 2, at(79))), nil,
			nettests.NetworkPartialShutdown, ReasonLoss},
		{"foreign fine, domestic at 79 % is loss", healthyLocal,
			join(pinSet("d", ClassDomestic, 2, at(79)), pinSet("f", ClassForeign, 4, full)), nil,
			nettests.NetworkPartialShutdown, ReasonLoss},
		{"domestic fine, foreign at 80 % is online", healthyLocal,
			join(pinSet("d", ClassDomestic, 4, full), pinSet("f", ClassForeign, 2, at(80))), nil,
			nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"a class without canaries is not a loss", healthyLocal,
			pinSet("f", ClassForeign, 3, full), nil,
			nettests.NetworkOnline, ReasonAllCanariesAnswer},
		// Rounds at 80 % are up, so beside a down round they flap; at 79 % they are
		// neither, and the same check is a loss instead.
		{"rounds at 80, 0, 80 % flap", healthyLocal,
			join(pinSet("d", ClassDomestic, 2, tcpRounds(Tally{80, 100}, Tally{0, 100}, Tally{80, 100})),
				pinSet("f", ClassForeign, 2, tcpRounds(Tally{80, 100}, Tally{0, 100}, Tally{80, 100}))), nil,
			nettests.NetworkPartialShutdown, ReasonFlapping},
		{"rounds at 79, 0, 79 % are loss, not flapping", healthyLocal,
			join(pinSet("d", ClassDomestic, 2, tcpRounds(Tally{79, 100}, Tally{0, 100}, Tally{79, 100})),
				pinSet("f", ClassForeign, 2, tcpRounds(Tally{79, 100}, Tally{0, 100}, Tally{79, 100}))), nil,
			nettests.NetworkPartialShutdown, ReasonLoss},
	})
}

// TestVerdictDownRatio: DownRatio (5 %) is the "down" bound of a round.
func TestVerdictDownRatio(t *testing.T) {
	at := func(ok int) []map[string]Tally { return tcpRounds(same(Tally{OK: ok, Attempts: 100}, 3)...) }
	runPinCases(t, []pinCase{
		// Foreign canaries only, so that no whitelist rule applies.
		{"every round at 5 % is a shutdown", healthyLocal,
			pinSet("f", ClassForeign, 3, at(5)), nil,
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
		{"every round at 6 % is loss", healthyLocal,
			pinSet("f", ClassForeign, 3, at(6)), nil,
			nettests.NetworkPartialShutdown, ReasonLoss},
		{"rounds at 100, 5, 100 % flap", healthyLocal,
			join(pinSet("d", ClassDomestic, 2, tcpRounds(Tally{100, 100}, Tally{5, 100}, Tally{100, 100})),
				pinSet("f", ClassForeign, 2, tcpRounds(Tally{100, 100}, Tally{5, 100}, Tally{100, 100}))), nil,
			nettests.NetworkPartialShutdown, ReasonFlapping},
		{"rounds at 100, 6, 100 % are loss, not flapping", healthyLocal,
			join(pinSet("d", ClassDomestic, 2, tcpRounds(Tally{100, 100}, Tally{6, 100}, Tally{100, 100})),
				pinSet("f", ClassForeign, 2, tcpRounds(Tally{100, 100}, Tally{6, 100}, Tally{100, 100}))), nil,
			nettests.NetworkPartialShutdown, ReasonLoss},
		// Flapping is looked for in each class on its own too: the domestic class
		// flips while the foreign class's rounds stay in between.
		{"one class flapping is flapping", healthyLocal,
			join(pinSet("d", ClassDomestic, 2, tcpRounds(Tally{100, 100}, Tally{0, 100}, Tally{100, 100})),
				pinSet("f", ClassForeign, 6, tcpRounds(same(Tally{50, 100}, 3)...))), nil,
			nettests.NetworkPartialShutdown, ReasonFlapping},
		{"the foreign class flapping alone is flapping", healthyLocal,
			join(pinSet("d", ClassDomestic, 6, tcpRounds(same(Tally{50, 100}, 3)...)),
				pinSet("f", ClassForeign, 2, tcpRounds(Tally{100, 100}, Tally{0, 100}, Tally{100, 100}))), nil,
			nettests.NetworkPartialShutdown, ReasonFlapping},
	})
}

// TestVerdictWhitelistThresholds: ForeignCutMax (10 %) and DomesticAliveMin (25 %
// of the domestic canaries in every round) of rule 5.
func TestVerdictWhitelistThresholds(t *testing.T) {
	full := tcpRounds(same(fullRound, 3)...)
	dead := tcpRounds(same(Tally{0, 10}, 3)...)
	foreignAt := func(ok int) []map[string]Tally { return tcpRounds(same(Tally{OK: ok, Attempts: 100}, 3)...) }
	// Few foreign attempts where the domestic share is pinned, so that the rounds
	// are not down as a whole (rule 5 needs a round that is not down).
	foreignDead := tcpRounds(same(Tally{0, 10}, 3)...)
	runPinCases(t, []pinCase{
		{"foreign at 10 %, domestic up: whitelist", healthyLocal,
			join(pinSet("d", ClassDomestic, 3, full), pinSet("f", ClassForeign, 2, foreignAt(10))), nil,
			nettests.NetworkWhitelist, ReasonForeignCut},
		{"foreign at 11 %, domestic up: loss", healthyLocal,
			join(pinSet("d", ClassDomestic, 3, full), pinSet("f", ClassForeign, 2, foreignAt(11))), nil,
			nettests.NetworkPartialShutdown, ReasonLoss},
		{"one domestic canary of four in every round: whitelist", healthyLocal,
			join(pinSet("d", ClassDomestic, 1, full), pinSet("x", ClassDomestic, 3, dead), pinSet("f", ClassForeign, 2, foreignDead)), nil,
			nettests.NetworkWhitelist, ReasonForeignCut},
		{"one domestic canary of five (20 %): not a whitelist", healthyLocal,
			join(pinSet("d", ClassDomestic, 1, full), pinSet("x", ClassDomestic, 4, dead), pinSet("f", ClassForeign, 2, foreignDead)), nil,
			nettests.NetworkPartialShutdown, ReasonLoss},
		{"a quarter of the domestic canaries in two rounds of three: not a whitelist", healthyLocal,
			join(pinSet("d", ClassDomestic, 1, tcpRounds(fullRound, fullRound, Tally{0, 10})), pinSet("x", ClassDomestic, 3, dead),
				pinSet("f", ClassForeign, 2, foreignDead)), nil,
			nettests.NetworkPartialShutdown, ReasonLoss},
		{"a quarter in every round, carried by different canaries: whitelist", healthyLocal,
			join(pinSet("a", ClassDomestic, 1, tcpRounds(fullRound, fullRound, Tally{0, 10})),
				pinSet("b", ClassDomestic, 1, tcpRounds(Tally{0, 10}, Tally{0, 10}, fullRound)),
				pinSet("x", ClassDomestic, 2, dead), pinSet("f", ClassForeign, 2, foreignDead)), nil,
			nettests.NetworkWhitelist, ReasonForeignCut},
		{"no foreign canaries: no whitelist can be seen", healthyLocal,
			join(pinSet("d", ClassDomestic, 1, full), pinSet("x", ClassDomestic, 3, dead)), nil,
			nettests.NetworkPartialShutdown, ReasonLoss},
	})
}

// TestVerdictAllowlistThresholds: rule 6 with ForeignCutMax, DomesticCutMax (10 % of
// ordinary domestic attempts) and AllowlistedAliveMin (25 % of the allowlisted
// canaries in every round).
func TestVerdictAllowlistThresholds(t *testing.T) {
	full := tcpRounds(same(fullRound, 3)...)
	dead := tcpRounds(same(Tally{0, 20}, 3)...)
	// Ordinary domestic: one canary of five answering ok of 20 attempts per round,
	// four dead at 20 attempts each (20 % of the canaries: rule 5 cannot hold).
	domestic := func(ok int) []CanaryOutcome {
		return join(pinSet("d", ClassDomestic, 1, tcpRounds(same(Tally{OK: ok, Attempts: 20}, 3)...)), pinSet("x", ClassDomestic, 4, dead))
	}
	foreignAt := func(ok int) []CanaryOutcome {
		return pinSet("f", ClassForeign, 2, tcpRounds(same(Tally{OK: ok, Attempts: 100}, 3)...))
	}
	allow := func(up, down int) []CanaryOutcome {
		return join(pinSet("a", ClassAllowlisted, up, full), pinSet("ax", ClassAllowlisted, down, tcpRounds(same(Tally{0, 10}, 3)...)))
	}
	runPinCases(t, []pinCase{
		{"ordinary domestic at 10 % of attempts: allowlist", healthyLocal,
			join(domestic(10), foreignAt(0), allow(1, 3)), nil,
			nettests.NetworkWhitelist, ReasonAllowlistedOnly},
		// Every ordinary round is down (11 of 300), so rules 1-4 decide.
		{"ordinary domestic at 11 % of attempts: not an allowlist", healthyLocal,
			join(domestic(11), foreignAt(0), allow(1, 3)), nil,
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
		{"foreign at 10 %, ordinary dark: allowlist", healthyLocal,
			join(pinSet("x", ClassDomestic, 4, dead), foreignAt(10), allow(1, 3)), nil,
			nettests.NetworkWhitelist, ReasonAllowlistedOnly},
		{"foreign at 11 %, ordinary domestic dark: not an allowlist", healthyLocal,
			join(pinSet("x", ClassDomestic, 4, dead), foreignAt(11), allow(1, 3)), nil,
			nettests.NetworkPartialShutdown, ReasonLoss},
		{"one allowlisted canary of four answering: allowlist", healthyLocal,
			join(pinSet("x", ClassDomestic, 4, dead), foreignAt(0), allow(1, 3)), nil,
			nettests.NetworkWhitelist, ReasonAllowlistedOnly},
		{"one allowlisted canary of five (20 %): a shutdown", healthyLocal,
			join(pinSet("x", ClassDomestic, 4, dead), foreignAt(0), allow(1, 4)), nil,
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
		{"no ordinary domestic canaries, allowlisted answer: allowlist", healthyLocal,
			join(foreignAt(0), allow(2, 0)), nil,
			nettests.NetworkWhitelist, ReasonAllowlistedOnly},
		{"allowlisted answer, no foreign canaries: a shutdown (the foreign cut is not measured)", healthyLocal,
			join(pinSet("x", ClassDomestic, 4, dead), allow(2, 0)), nil,
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
		{"allowlisted canaries never make online on their own", healthyLocal,
			allow(3, 0), nil,
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
	})
}

// TestVerdictThrottledKbps: ThrottledKbps (256) is a strict bound.
func TestVerdictThrottledKbps(t *testing.T) {
	up := join(pinSet("d", ClassDomestic, 3, tcpRounds(same(fullRound, 3)...)), pinSet("f", ClassForeign, 3, tcpRounds(same(fullRound, 3)...)))
	runPinCases(t, []pinCase{
		{"255.9 kbit/s is throttled", healthyLocal, up, kbps(255.9), nettests.NetworkThrottled, ReasonSlow},
		{"256 kbit/s is online", healthyLocal, up, kbps(256), nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"no usable sample is online", healthyLocal, up, &Throughput{ThresholdKbps: ThrottledKbps}, nettests.NetworkOnline, ReasonAllCanariesAnswer},
	})
}

// TestVerdictLocalClauses pins each clause of rules 1-4 alone, with every round
// down.
func TestVerdictLocalClauses(t *testing.T) {
	down := join(pinSet("d", ClassDomestic, 2, tcpRounds(same(Tally{0, 10}, 3)...)), pinSet("f", ClassForeign, 2, tcpRounds(same(Tally{0, 10}, 3)...)))
	yes, no := ptr(true), ptr(false)
	runPinCases(t, []pinCase{
		{"no interface, even with a first hop answering", LocalChecks{Interface: no, DefaultRoute: yes, FirstHop: FirstHopCheck{TCPAnswered: true}}, down, nil,
			nettests.NetworkLocalFailure, ReasonNoInterface},
		{"no route, interface unknown", LocalChecks{DefaultRoute: no, FirstHop: FirstHopCheck{TCPAnswered: true}}, down, nil,
			nettests.NetworkLocalFailure, ReasonNoRoute},
		{"gateway TCP answer alone", LocalChecks{FirstHop: FirstHopCheck{TCPAnswered: true}}, down, nil,
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
		{"neighbour entry alone", LocalChecks{FirstHop: FirstHopCheck{Neighbour: true}}, down, nil,
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
		{"a remote resolver answering alone", LocalChecks{Resolver: ResolverCheck{Answered: true}}, down, nil,
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
		{"a loopback stub answering alone", LocalChecks{Resolver: ResolverCheck{Answered: true, LocalStub: true}}, down, nil,
			nettests.NetworkLocalFailure, ReasonFirstHopSilent},
		{"a stub that did not answer", LocalChecks{Resolver: ResolverCheck{LocalStub: true}}, down, nil,
			nettests.NetworkLocalFailure, ReasonFirstHopSilent},
		{"a loopback stub beside a live gateway", LocalChecks{FirstHop: FirstHopCheck{Neighbour: true}, Resolver: ResolverCheck{Answered: true, LocalStub: true}}, down, nil,
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
		{"nothing local answered", LocalChecks{Interface: yes, DefaultRoute: yes}, down, nil,
			nettests.NetworkLocalFailure, ReasonFirstHopSilent},
	})
}

// TestVerdictDNSIsNeverReachability: every host canary resolves in every round (the
// resolver answers from its cache) while every transport is dead. That is never
// reach: the rounds are down and the verdict is a shutdown or a local failure, and
// a single DNS answer beside otherwise fine transports changes nothing either.
func TestVerdictDNSIsNeverReachability(t *testing.T) {
	dnsOnly := func() map[string]Tally {
		return map[string]Tally{ProtoDNS: {1, 1}, ProtoTCP: {0, 2}, ProtoTLS: {0, 2}, ProtoQUIC: {0, 2}}
	}
	hosts := func(class string, n int) []CanaryOutcome {
		var out []CanaryOutcome
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("%s%d.example", class, i)
			out = append(out, CanaryOutcome{Canary: Canary{Name: name, Class: class, Host: name, SNI: name, Port: "443"},
				Rounds: []map[string]Tally{dnsOnly(), dnsOnly(), dnsOnly()}})
		}
		return out
	}
	cs := join(hosts(ClassDomestic, 3), hosts(ClassForeign, 3), hosts(ClassAllowlisted, 2))
	for _, c := range []struct {
		local           LocalChecks
		verdict, reason string
	}{
		{LocalChecks{Interface: ptr(true), DefaultRoute: ptr(true), Resolver: ResolverCheck{Answered: true}}, nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
		{LocalChecks{Interface: ptr(true), DefaultRoute: ptr(true), Resolver: ResolverCheck{Answered: true, LocalStub: true}}, nettests.NetworkLocalFailure, ReasonFirstHopSilent},
	} {
		a := Decide(Evidence{Local: c.local, Canaries: cs, Rounds: 3})
		if a.Verdict != c.verdict || a.Reason != c.reason {
			t.Errorf("local %+v: verdict %s (%s), want %s (%s)", c.local, a.Verdict, a.Reason, c.verdict, c.reason)
		}
		for i, r := range a.Reach {
			for key, tally := range r {
				if tally.OK != 0 {
					t.Errorf("round %d: reach[%s] = %+v, want no success (DNS is not reach)", i, key, tally)
				}
			}
		}
		if len(a.Excluded) != 0 {
			t.Errorf("excluded %v: a canary that only resolves must not count as answering steadily", a.Excluded)
		}
		if dns := a.Ratios[ClassDomestic][ProtoDNS]; dns.OK != 9 || dns.Attempts != 9 {
			t.Errorf("ratios: domestic dns %+v, want 9/9 (DNS stays evidence)", dns)
		}
	}
}

// TestVerdictExclusionThresholds: a canary is "steady" when it answered in more
// than half of the rounds, and a dead canary is excluded when at least two peers
// are steady and the dead are at most a quarter of the class (at least one).
func TestVerdictExclusionThresholds(t *testing.T) {
	up, down := fullRound, Tally{0, 10}
	excluded := func(cs []CanaryOutcome, rounds int) map[string]bool {
		a := Decide(Evidence{Local: healthyLocal, Canaries: cs, Rounds: rounds})
		out := map[string]bool{}
		for _, e := range a.Excluded {
			out[e.Canary+"/"+e.Protocol] = true
		}
		return out
	}
	// Protocol gaps: QUIC never answers on a canary whose TCP answered in 2 of 4
	// rounds (not steady) or 3 of 4 (steady).
	gap := func(tcp ...Tally) []CanaryOutcome {
		var rounds []map[string]Tally
		for _, t := range tcp {
			rounds = append(rounds, map[string]Tally{ProtoTCP: t, ProtoQUIC: {0, 2}})
		}
		return []CanaryOutcome{{Canary: Canary{Name: "g", Class: ClassForeign, Address: "192.0.2.9:443", Port: "443"}, Rounds: rounds}}
	}
	if ex := excluded(gap(up, down, up, down), 4); ex["g/quic"] {
		t.Errorf("answered in 2 of 4 rounds is not steady, yet its QUIC gap was excluded: %v", ex)
	}
	if ex := excluded(gap(up, down, up, up), 4); !ex["g/quic"] || ex["g/tcp"] {
		t.Errorf("answered in 3 of 4 rounds: excluded %v, want g/quic only", ex)
	}
	if ex := excluded(gap(up, up, up), 3); !ex["g/quic"] || ex["g/tcp"] {
		t.Errorf("steady canary: excluded %v, want g/quic only", ex)
	}

	steady := tcpRounds(up, up, up)
	dead := tcpRounds(down, down, down)
	cases := []struct {
		name       string
		cs         []CanaryOutcome
		wantDead   int // dead canaries excluded
		wantTarget string
	}{
		{"1 dead of 3, 2 steady peers", join(pinSet("s", ClassForeign, 2, steady), pinSet("z", ClassForeign, 1, dead)), 1, ""},
		{"1 dead of 2, 1 steady peer", join(pinSet("s", ClassForeign, 1, steady), pinSet("z", ClassForeign, 1, dead)), 0, ""},
		{"2 dead of 8, 6 steady peers", join(pinSet("s", ClassForeign, 6, steady), pinSet("z", ClassForeign, 2, dead)), 2, ""},
		{"3 dead of 8, 5 steady peers", join(pinSet("s", ClassForeign, 5, steady), pinSet("z", ClassForeign, 3, dead)), 0, ""},
		{"2 dead of 7, 5 steady peers (a quarter of 7 is 1)", join(pinSet("s", ClassForeign, 5, steady), pinSet("z", ClassForeign, 2, dead)), 0, ""},
		{"peers steady in another class do not count", join(pinSet("s", ClassDomestic, 4, steady), pinSet("z", ClassForeign, 1, dead), pinSet("t", ClassForeign, 1, steady)), 0, ""},
		{"peers answering in 1 of 3 rounds are not steady", join(pinSet("s", ClassForeign, 3, tcpRounds(up, down, down)), pinSet("z", ClassForeign, 1, dead)), 0, ""},
	}
	for _, c := range cases {
		ex := excluded(c.cs, 3)
		n := 0
		for k := range ex {
			if k[0] == 'z' {
				n++
			}
		}
		if n != c.wantDead || len(ex) != n {
			t.Errorf("%s: excluded %v, want %d dead canaries and nothing else", c.name, ex, c.wantDead)
		}
	}
	// A canary with no transport attempt at all is not dead (nothing was tried).
	untried := []CanaryOutcome{{Canary: Canary{Name: "u", Class: ClassForeign, Address: "192.0.2.8:443", Port: "443"}, Rounds: []map[string]Tally{{}, {}, {}}}}
	if ex := excluded(join(pinSet("s", ClassForeign, 4, steady), untried), 3); len(ex) != 0 {
		t.Errorf("untried canary: excluded %v, want nothing", ex)
	}
}

// TestVerdictRatioOfNothing: a class or round without attempts has ratio 0 and is
// neither up nor down.
func TestVerdictRatioOfNothing(t *testing.T) {
	if r := (Tally{}).Ratio(); r != 0 {
		t.Fatalf("empty tally ratio %v, want 0", r)
	}
	if r := (Tally{OK: 1, Attempts: 4}).Ratio(); r != 0.25 {
		t.Fatalf("1/4 ratio %v, want 0.25", r)
	}
	// The domestic class has no attempt in round 2 (nothing tried): that round is
	// neither up nor down for it, so the class does not flap.
	cs := join(pinSet("d", ClassDomestic, 2, []map[string]Tally{{ProtoTCP: fullRound}, {}, {ProtoTCP: fullRound}}),
		pinSet("f", ClassForeign, 2, tcpRounds(same(fullRound, 3)...)))
	a := Decide(Evidence{Local: healthyLocal, Canaries: cs, Rounds: 3})
	if a.Verdict != nettests.NetworkOnline {
		t.Fatalf("verdict %s (%s), want online; reach %v", a.Verdict, a.Reason, a.Reach)
	}
}

// TestVerdictPulseRunThresholds: rule 7a needs a down run and an up run of
// PulseRunMin (5) pulses each spanning at least PulseRunSpan (1 s); one pulse or
// a few milliseconds less is no flip.
func TestVerdictPulseRunThresholds(t *testing.T) {
	// pulses: n failures every step seconds, then m successes every step seconds.
	pulses := func(down int, downStep float64, up int, upStep float64) []Pulse {
		var out []Pulse
		at := 0.0
		for i := 0; i < down; i++ {
			out = append(out, Pulse{T: at, Canary: "f0.pin", OK: false})
			at += downStep
		}
		at += 0.25
		for i := 0; i < up; i++ {
			out = append(out, Pulse{T: at, Canary: "f0.pin", OK: true})
			at += upStep
		}
		return out
	}
	// pattern: one pulse every 250 ms, "d" failed, "u" answered.
	pattern := func(p string) []Pulse {
		var out []Pulse
		for i, c := range p {
			out = append(out, Pulse{T: float64(i) * 0.25, Canary: "f0.pin", OK: c == 'u'})
		}
		return out
	}
	upRounds := join(pinSet("d", ClassDomestic, 2, tcpRounds(same(fullRound, 3)...)), pinSet("f", ClassForeign, 2, tcpRounds(same(fullRound, 3)...)))
	downRounds := join(pinSet("d", ClassDomestic, 2, tcpRounds(same(Tally{0, 10}, 3)...)), pinSet("f", ClassForeign, 2, tcpRounds(same(Tally{0, 10}, 3)...)))
	cases := []struct {
		name            string
		canaries        []CanaryOutcome
		pulses          []Pulse
		verdict, reason string
	}{
		{"5 down over 1 s, 5 up over 1 s: flip", upRounds, pulses(5, 0.25, 5, 0.25), nettests.NetworkPartialShutdown, ReasonFlapping},
		{"4 down: no flip", upRounds, pulses(4, 0.25, 8, 0.25), nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"4 up: no flip", upRounds, pulses(8, 0.25, 4, 0.25), nettests.NetworkPartialShutdown, ReasonLoss},
		{"5 down over 0.96 s: no flip", upRounds, pulses(5, 0.24, 5, 0.25), nettests.NetworkPartialShutdown, ReasonLoss},
		{"5 up over 0.96 s: no flip", upRounds, pulses(5, 0.25, 5, 0.24), nettests.NetworkPartialShutdown, ReasonLoss},
		{"a run broken by one success is no run", upRounds, pattern("dddudddduuuuuu"), nettests.NetworkPartialShutdown, ReasonLoss},
		{"the same without the break is a run", upRounds, pattern("ddddddduuuuuu"), nettests.NetworkPartialShutdown, ReasonFlapping},
		{"a flip while every round was down: partial, not shutdown", downRounds, pulses(6, 0.25, 6, 0.25), nettests.NetworkPartialShutdown, ReasonFlapping},
		{"only down pulses while every round was down: shutdown", downRounds, pulses(12, 0.25, 0, 0), nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
	}
	// QUIRK: the "no flip" rows fail so many pulses that the pulse-loss rule
	// (TestVerdictPulseLoss) calls them partial by loss: the reason, not flapping,
	// is what shows the run rule did not fire.
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := Decide(Evidence{Local: healthyLocal, Canaries: c.canaries, Rounds: 3, Pulses: c.pulses})
			if a.Verdict != c.verdict || a.Reason != c.reason {
				t.Fatalf("verdict %s (%s), want %s (%s); pulses %v", a.Verdict, a.Reason, c.verdict, c.reason, c.pulses)
			}
		})
	}
}

// TestVerdictReadsOnlyTheCheckedRounds: tallies beyond Evidence.Rounds (a check cut
// short after a canary recorded another round) are ignored, not read out of range.
func TestVerdictReadsOnlyTheCheckedRounds(t *testing.T) {
	threeRounds := tcpRounds(fullRound, fullRound, Tally{0, 10})
	cs := join(pinSet("d", ClassDomestic, 2, threeRounds), pinSet("f", ClassForeign, 2, threeRounds))
	a := Decide(Evidence{Local: healthyLocal, Canaries: cs, Rounds: 2})
	if a.Verdict != nettests.NetworkOnline || len(a.Reach) != 2 {
		t.Fatalf("verdict %s (%s), %d reach rounds; want online from the 2 checked rounds", a.Verdict, a.Reason, len(a.Reach))
	}
	// The domestic shares of rule 5 are read the same way.
	cs = join(pinSet("d", ClassDomestic, 1, tcpRounds(same(fullRound, 3)...)), pinSet("x", ClassDomestic, 3, tcpRounds(same(Tally{0, 10}, 3)...)),
		pinSet("f", ClassForeign, 2, tcpRounds(same(Tally{0, 10}, 3)...)))
	if a := Decide(Evidence{Local: healthyLocal, Canaries: cs, Rounds: 2}); a.Verdict != nettests.NetworkWhitelist {
		t.Fatalf("verdict %s (%s), want whitelist from the 2 checked rounds", a.Verdict, a.Reason)
	}
}

// TestProbedAddress: a literal is probed at itself, a host at the first IPv4 its
// lookup returned (IPv6 only without one), a host that never resolved nowhere.
func TestProbedAddress(t *testing.T) {
	for _, c := range []struct {
		o    CanaryOutcome
		want string
	}{
		{CanaryOutcome{Canary: Canary{Name: "192.0.2.1:443", Address: "192.0.2.1:443", Port: "443"}}, "192.0.2.1:443"},
		{CanaryOutcome{Canary: Canary{Name: "h", Host: "h", Port: "8443"}, Addrs: []string{"2001:db8::1", "192.0.2.7"}}, "192.0.2.7:8443"},
		{CanaryOutcome{Canary: Canary{Name: "h", Host: "h", Port: "443"}, Addrs: []string{"2001:db8::1"}}, "[2001:db8::1]:443"},
		{CanaryOutcome{Canary: Canary{Name: "h", Host: "h", Port: "443"}}, ""},
	} {
		if got := c.o.ProbedAddress(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.o, got, c.want)
		}
	}
}

// TestVerdictPulseLoss pins each clause of the pulse-loss rule: fewer than
// OnlineRatio of the pulses answered, some answered, and more failures than
// PulseLossTolerated random loss explains at PulseLossAlpha. Failures are spread
// (never five in a row), so the flip rule stays out of it.
func TestVerdictPulseLoss(t *testing.T) {
	spread := func(n, failed int) []Pulse {
		out := make([]Pulse, n)
		for i := range out {
			out[i] = Pulse{T: float64(i) * 0.25, Canary: "f0.pin", OK: true}
		}
		for i := 0; i < failed; i++ { // every other pulse from the start, then every third
			out[(i*2)%n].OK = false
		}
		return out
	}
	upRounds := join(pinSet("d", ClassDomestic, 2, tcpRounds(same(fullRound, 3)...)), pinSet("f", ClassForeign, 2, tcpRounds(same(fullRound, 3)...)))
	cases := []struct {
		name            string
		pulses          []Pulse
		verdict, reason string
	}{
		// 7 of 30 failed: 76.7 % answered, but P(X >= 7 | 30, 0.1) = 0.026 >= 0.01.
		{"7 of 30 failed: random loss explains it", spread(30, 7), nettests.NetworkOnline, ReasonAllCanariesAnswer},
		// 8 of 30: P = 0.0078 < 0.01 and 73 % < 80 %.
		{"8 of 30 failed: beyond random loss", spread(30, 8), nettests.NetworkPartialShutdown, ReasonLoss},
		// 20 of 100: P = 0.002, but 80 % answered: the online ratio holds.
		{"20 of 100 failed: at the online ratio", spread(100, 20), nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"21 of 100 failed: under the online ratio", spread(100, 21), nettests.NetworkPartialShutdown, ReasonLoss},
		{"3 of every 5 refused (Beeline)", pattern35(30), nettests.NetworkPartialShutdown, ReasonLoss},
		{"no pulses", nil, nettests.NetworkOnline, ReasonAllCanariesAnswer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := Decide(Evidence{Local: healthyLocal, Canaries: upRounds, Rounds: 3, Pulses: c.pulses})
			if a.Verdict != c.verdict || a.Reason != c.reason {
				t.Errorf("verdict %s (%s), want %s (%s)", a.Verdict, a.Reason, c.verdict, c.reason)
			}
		})
	}
}

// pattern35 is n pulses of which 3 of every 5 failed, as the lab's partial block
// refuses new flows.
func pattern35(n int) []Pulse {
	out := make([]Pulse, n)
	for i := range out {
		out[i] = Pulse{T: float64(i) * 0.25, Canary: "f0.pin", OK: i%5 >= 3}
	}
	return out
}

func TestBinomialTail(t *testing.T) {
	for _, c := range []struct {
		n, k int
		p    float64
		want float64
	}{{30, 7, 0.1, 0.0258268}, {30, 8, 0.1, 0.0077836}, {10, 0, 0.1, 1}, {4, 4, 0.5, 0.0625}} {
		if got := binomialTail(c.n, c.k, c.p); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("binomialTail(%d, %d, %v) = %v, want %v", c.n, c.k, c.p, got, c.want)
		}
	}
}
