package connectivity

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vantage-probe/vantage/nettests"
)

// Round shapes for one canary in one round: how many of its transport attempts
// succeeded. Attempts follow the retry rule (stop at the first success, 2 tries).
func upRound() map[string]Tally {
	return map[string]Tally{ProtoTCP: {1, 1}, ProtoTLS: {1, 1}, ProtoQUIC: {1, 1}}
}

func downRound() map[string]Tally {
	return map[string]Tally{ProtoTCP: {0, 2}, ProtoTLS: {0, 2}, ProtoQUIC: {0, 2}}
}

// dnsOnlyRound: the name resolves (the resolver answers) but nothing connects.
func dnsOnlyRound() map[string]Tally {
	r := downRound()
	r[ProtoDNS] = Tally{1, 1}
	return r
}

func noQUICRound() map[string]Tally {
	return map[string]Tally{ProtoTCP: {1, 1}, ProtoTLS: {1, 1}, ProtoQUIC: {0, 2}}
}

func outcome(name, class string, rounds ...map[string]Tally) CanaryOutcome {
	return CanaryOutcome{Canary: Canary{Name: name, Class: class, Address: name + ":443", Port: "443"}, Rounds: append([]map[string]Tally{}, rounds...)}
}

func hostOutcome(name, class string, rounds ...map[string]Tally) CanaryOutcome {
	return CanaryOutcome{Canary: Canary{Name: name, Class: class, Host: name, SNI: name, Port: "443"}, Rounds: rounds}
}

// set builds n canaries of a class, all with the same rounds.
func set(prefix, class string, n int, rounds ...map[string]Tally) []CanaryOutcome {
	var out []CanaryOutcome
	for i := 0; i < n; i++ {
		out = append(out, outcome(fmt.Sprintf("%s%d", prefix, i), class, rounds...))
	}
	return out
}

func join(sets ...[]CanaryOutcome) []CanaryOutcome {
	var out []CanaryOutcome
	for _, s := range sets {
		out = append(out, s...)
	}
	return out
}

// Local situations.
var (
	healthyLocal = LocalChecks{Interface: ptr(true), DefaultRoute: ptr(true),
		FirstHop: FirstHopCheck{TCPAnswered: true}, Resolver: ResolverCheck{Answered: true}}
	// silentGateway drops every probe addressed to it and has no neighbour entry.
	silentGateway = LocalChecks{Interface: ptr(true), DefaultRoute: ptr(true)}
	// silentGatewayRemoteResolver: the gateway is silent but the ISP's resolver answers.
	silentGatewayRemoteResolver = LocalChecks{Interface: ptr(true), DefaultRoute: ptr(true),
		Resolver: ResolverCheck{Answered: true}}
	// silentGatewayStubResolver: only a loopback stub answers (SERVFAIL).
	silentGatewayStubResolver = LocalChecks{Interface: ptr(true), DefaultRoute: ptr(true),
		Resolver: ResolverCheck{Answered: true, LocalStub: true}}
	neighbourOnly = LocalChecks{Interface: ptr(true), DefaultRoute: ptr(true), FirstHop: FirstHopCheck{Neighbour: true}}
	noInterface   = LocalChecks{Interface: ptr(false), DefaultRoute: ptr(false)}
	noRoute       = LocalChecks{Interface: ptr(true), DefaultRoute: ptr(false)}
	// unknownOS: neither interfaces nor routes could be read.
	unknownOS = LocalChecks{}
)

func kbps(v float64) *Throughput { return &Throughput{MedianKbps: &v, ThresholdKbps: ThrottledKbps} }

func TestDecide(t *testing.T) {
	up3 := []map[string]Tally{upRound(), upRound(), upRound()}
	down3 := []map[string]Tally{downRound(), downRound(), downRound()}
	tests := []struct {
		name        string
		local       LocalChecks
		canaries    []CanaryOutcome
		throughput  *Throughput
		wantVerdict string
		wantReason  string
	}{
		{"all canaries answer", healthyLocal, join(set("d", ClassDomestic, 3, up3...), set("f", ClassForeign, 4, up3...)), nil,
			nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"gateway drops probes but forwards", silentGateway, join(set("d", ClassDomestic, 3, up3...), set("f", ClassForeign, 4, up3...)), nil,
			nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"nothing answers, gateway up", healthyLocal, join(set("d", ClassDomestic, 3, down3...), set("f", ClassForeign, 4, down3...)), nil,
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
		{"resolver answers while nothing is forwarded", silentGatewayRemoteResolver,
			join([]CanaryOutcome{hostOutcome("d.kz", ClassDomestic, dnsOnlyRound(), dnsOnlyRound(), dnsOnlyRound())},
				set("d", ClassDomestic, 2, down3...),
				[]CanaryOutcome{hostOutcome("f.org", ClassForeign, dnsOnlyRound(), dnsOnlyRound(), dnsOnlyRound())},
				set("f", ClassForeign, 3, down3...)), nil,
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
		{"gateway alive by neighbour table only", neighbourOnly, join(set("d", ClassDomestic, 3, down3...), set("f", ClassForeign, 4, down3...)), nil,
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
		{"silent gateway, no resolver, nothing answers", silentGateway, join(set("d", ClassDomestic, 3, down3...), set("f", ClassForeign, 4, down3...)), nil,
			nettests.NetworkLocalFailure, ReasonFirstHopSilent},
		{"only a loopback stub resolver answers", silentGatewayStubResolver, join(set("d", ClassDomestic, 3, down3...), set("f", ClassForeign, 4, down3...)), nil,
			nettests.NetworkLocalFailure, ReasonFirstHopSilent},
		{"no interface", noInterface, join(set("d", ClassDomestic, 3, downRound()), set("f", ClassForeign, 4, downRound())), nil,
			nettests.NetworkLocalFailure, ReasonNoInterface},
		{"no default route", noRoute, join(set("d", ClassDomestic, 3, downRound()), set("f", ClassForeign, 4, downRound())), nil,
			nettests.NetworkLocalFailure, ReasonNoRoute},
		{"no default route yet canaries answer (policy routing, VPN)", noRoute, join(set("d", ClassDomestic, 3, up3...), set("f", ClassForeign, 4, up3...)), nil,
			nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"unknown OS, canaries answer", unknownOS, set("f", ClassForeign, 4, up3...), nil,
			nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"reachability flips across rounds", healthyLocal,
			join(set("d", ClassDomestic, 3, upRound(), downRound(), upRound()), set("f", ClassForeign, 4, upRound(), downRound(), upRound())), nil,
			nettests.NetworkPartialShutdown, ReasonFlapping},
		{"domestic only", healthyLocal, join(set("d", ClassDomestic, 3, up3...), set("f", ClassForeign, 4, down3...)), nil,
			nettests.NetworkWhitelist, ReasonForeignCut},
		{"one allowlisted domestic canary of four, foreign cut", healthyLocal,
			join(set("d", ClassDomestic, 1, up3...), set("dx", ClassDomestic, 3, down3...), set("f", ClassForeign, 4, down3...)), nil,
			nettests.NetworkWhitelist, ReasonForeignCut},
		{"domestic flaps while foreign is cut", healthyLocal,
			join(set("d", ClassDomestic, 3, upRound(), downRound(), upRound()), set("f", ClassForeign, 4, down3...)), nil,
			nettests.NetworkPartialShutdown, ReasonFlapping},
		{"one foreign canary dead, the rest fine", healthyLocal,
			join(set("d", ClassDomestic, 3, up3...), set("f", ClassForeign, 3, up3...), set("dead", ClassForeign, 1, down3...)), nil,
			nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"one domestic canary dead, the rest fine", healthyLocal,
			join(set("d", ClassDomestic, 2, up3...), set("dead", ClassDomestic, 1, down3...), set("f", ClassForeign, 4, up3...)), nil,
			nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"half the foreign canaries dead is not one bad canary", healthyLocal,
			join(set("d", ClassDomestic, 3, up3...), set("f", ClassForeign, 2, up3...), set("dead", ClassForeign, 2, down3...)), nil,
			nettests.NetworkPartialShutdown, ReasonLoss},
		{"no canary speaks QUIC (UDP 443 dropped)", healthyLocal,
			join(set("d", ClassDomestic, 3, noQUICRound(), noQUICRound(), noQUICRound()), set("f", ClassForeign, 4, noQUICRound(), noQUICRound(), noQUICRound())), nil,
			nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"throughput collapsed", healthyLocal, join(set("d", ClassDomestic, 3, up3...), set("f", ClassForeign, 4, up3...)), kbps(120),
			nettests.NetworkThrottled, ReasonSlow},
		{"throughput fine", healthyLocal, join(set("d", ClassDomestic, 3, up3...), set("f", ClassForeign, 4, up3...)), kbps(20000),
			nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"throughput not measurable", healthyLocal, join(set("d", ClassDomestic, 3, up3...), set("f", ClassForeign, 4, up3...)), &Throughput{},
			nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"slow but shut down is a shutdown", healthyLocal, join(set("d", ClassDomestic, 3, down3...), set("f", ClassForeign, 4, down3...)), kbps(10),
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
		{"foreign half lost, domestic fine", healthyLocal,
			join(set("d", ClassDomestic, 3, up3...), set("f", ClassForeign, 4, map[string]Tally{ProtoTCP: {1, 2}, ProtoTLS: {1, 2}, ProtoQUIC: {1, 2}})), nil,
			nettests.NetworkPartialShutdown, ReasonLoss},
		{"no canaries at all", healthyLocal, nil, nil,
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rounds := 0
			for _, c := range tt.canaries {
				rounds = max(rounds, len(c.Rounds))
			}
			a := Decide(Evidence{Local: tt.local, Canaries: tt.canaries, Rounds: max(rounds, 1), Throughput: tt.throughput})
			if a.Verdict != tt.wantVerdict || a.Reason != tt.wantReason {
				t.Fatalf("verdict %s (%s), want %s (%s); reach %v, excluded %v", a.Verdict, a.Reason, tt.wantVerdict, tt.wantReason, a.Reach, a.Excluded)
			}
		})
	}
}

// simulate measures canaries under independent per-attempt loss p, with the
// retry rule of the test (up to attempts tries, stop at the first success).
func simulate(rng *rand.Rand, p float64, rounds, attempts int, names map[string]int) []CanaryOutcome {
	var out []CanaryOutcome
	for _, class := range []string{ClassDomestic, ClassForeign} {
		for i := 0; i < names[class]; i++ {
			c := outcome(fmt.Sprintf("%s%d", class, i), class)
			for r := 0; r < rounds; r++ {
				round := map[string]Tally{}
				for _, proto := range transportProtos {
					var t Tally
					for a := 0; a < attempts; a++ {
						t.Attempts++
						if rng.Float64() >= p {
							t.OK++
							break
						}
					}
					round[proto] = t
				}
				c.Rounds = append(c.Rounds, round)
			}
			out = append(out, c)
		}
	}
	return out
}

// TestDecideRandomLoss: per-attempt loss spread evenly over canaries and rounds is a
// partial shutdown when heavy and stays online when light. The seeds are fixed, so
// the outcome is deterministic; several seeds guard against a lucky draw.
func TestDecideRandomLoss(t *testing.T) {
	sizes := map[string]int{ClassDomestic: 4, ClassForeign: 6}
	for seed := uint64(1); seed <= 20; seed++ {
		for _, tc := range []struct {
			loss float64
			want string
		}{{0.5, nettests.NetworkPartialShutdown}, {0.4, nettests.NetworkPartialShutdown}, {0.05, nettests.NetworkOnline}, {0, nettests.NetworkOnline}} {
			rng := rand.New(rand.NewPCG(seed, 7))
			a := Decide(Evidence{Local: healthyLocal, Canaries: simulate(rng, tc.loss, DefaultRounds, DefaultAttempts, sizes), Rounds: DefaultRounds})
			if a.Verdict != tc.want {
				t.Errorf("seed %d, loss %.2f: verdict %s (%s), want %s; reach %v", seed, tc.loss, a.Verdict, a.Reason, tc.want, a.Reach)
			}
		}
	}
}

// TestDecideKazakhstanLeak: a shutdown that lets about 2 % of attempts through
// (Kazakhstan, 5 January 2022) is still a full shutdown.
func TestDecideKazakhstanLeak(t *testing.T) {
	leaky := map[string]Tally{ProtoTCP: {0, 2}, ProtoTLS: {0, 2}, ProtoQUIC: {0, 2}}
	cs := join(set("d", ClassDomestic, 4, leaky, leaky, leaky), set("f", ClassForeign, 4, leaky, leaky, leaky))
	// One success in the 48 attempts of a round: about 2 %.
	for r := 0; r < 3; r++ {
		cs[r].Rounds[r] = map[string]Tally{ProtoTCP: {1, 2}, ProtoTLS: {0, 2}, ProtoQUIC: {0, 2}}
	}
	a := Decide(Evidence{Local: healthyLocal, Canaries: cs, Rounds: 3})
	if a.Verdict != nettests.NetworkFullShutdown {
		t.Fatalf("verdict %s (%s), want full_shutdown; reach %v", a.Verdict, a.Reason, a.Reach)
	}
	if got := a.Reach[0][reachAll]; got.OK != 1 || got.Attempts != 48 {
		t.Fatalf("round 0 reach %+v, want 1/48", got)
	}
}

// TestDecideExclusions checks what is left out and what is not.
func TestDecideExclusions(t *testing.T) {
	up3 := []map[string]Tally{upRound(), upRound(), upRound()}
	cs := join(set("f", ClassForeign, 3, noQUICRound(), noQUICRound(), noQUICRound()), set("dead", ClassForeign, 1, downRound(), downRound(), downRound()), set("d", ClassDomestic, 2, up3...))
	a := Decide(Evidence{Local: healthyLocal, Canaries: cs, Rounds: 3})
	want := map[string]bool{"dead0\x00": true, "f0\x00quic": true, "f1\x00quic": true, "f2\x00quic": true}
	if len(a.Excluded) != len(want) {
		t.Fatalf("excluded %v, want %d entries", a.Excluded, len(want))
	}
	for _, e := range a.Excluded {
		if !want[exclusionKey(e.Canary, e.Protocol)] {
			t.Errorf("unexpected exclusion %+v", e)
		}
	}
	// Foreign reach per round: 3 canaries × (tcp 1/1 + tls 1/1), QUIC and the dead one out.
	if got := a.Reach[1][ClassForeign]; got.OK != 6 || got.Attempts != 6 {
		t.Errorf("foreign reach %+v, want 6/6", got)
	}
	// Raw ratios keep everything: the foreign QUIC column shows 0 of 3×3×2+3×2 attempts.
	if got := a.Ratios[ClassForeign][ProtoQUIC]; got.OK != 0 || got.Attempts != 24 {
		t.Errorf("raw foreign quic %+v, want 0/24", got)
	}
}

// TestDecideAllowlisted: the allowlisted canaries (state portal, banks) tell an
// allowlist that spares only them from a full shutdown, and change nothing else.
func TestDecideAllowlisted(t *testing.T) {
	up3 := []map[string]Tally{upRound(), upRound(), upRound()}
	down3 := []map[string]Tally{downRound(), downRound(), downRound()}
	flap := []map[string]Tally{upRound(), downRound(), upRound()}
	ordinaryDark := join(set("d", ClassDomestic, 4, down3...), set("f", ClassForeign, 4, down3...))
	tests := []struct {
		name        string
		canaries    []CanaryOutcome
		wantVerdict string
		wantReason  string
	}{
		{"allowlist: only the allowlisted answer", join(ordinaryDark, set("a", ClassAllowlisted, 4, up3...)),
			nettests.NetworkWhitelist, ReasonAllowlistedOnly},
		{"allowlist sparing one bank of four", join(ordinaryDark, set("a", ClassAllowlisted, 1, up3...), set("ax", ClassAllowlisted, 3, down3...)),
			nettests.NetworkWhitelist, ReasonAllowlistedOnly},
		{"allowlist with one allowlisted canary flapping", join(ordinaryDark, set("a", ClassAllowlisted, 2, up3...), set("aflap", ClassAllowlisted, 1, flap...), set("ax", ClassAllowlisted, 1, down3...)),
			nettests.NetworkWhitelist, ReasonAllowlistedOnly},
		// Round 2 leaks 4 of 44 ordinary attempts (9 %, not a down round); the
		// ordinary domestic class stays at 4/68 (6 %) over the check, under the
		// 10 % cut.
		{"allowlist, ordinary domestic leaks a little", join(
			set("d", ClassDomestic, 2, down3...),
			set("dleak", ClassDomestic, 2, downRound(), map[string]Tally{ProtoTCP: {1, 1}, ProtoTLS: {1, 1}, ProtoQUIC: {0, 2}}, downRound()),
			set("f", ClassForeign, 4, down3...), set("a", ClassAllowlisted, 3, up3...)),
			nettests.NetworkWhitelist, ReasonAllowlistedOnly},
		{"the same leak without allowlisted canaries", join(
			set("d", ClassDomestic, 2, down3...),
			set("dleak", ClassDomestic, 2, downRound(), map[string]Tally{ProtoTCP: {1, 1}, ProtoTLS: {1, 1}, ProtoQUIC: {0, 2}}, downRound()),
			set("f", ClassForeign, 4, down3...)),
			nettests.NetworkPartialShutdown, ReasonLoss},
		{"allowlist without ordinary domestic canaries", join(set("f", ClassForeign, 4, down3...), set("a", ClassAllowlisted, 2, up3...)),
			nettests.NetworkWhitelist, ReasonAllowlistedOnly},
		{"full shutdown: the allowlisted fail too", join(ordinaryDark, set("a", ClassAllowlisted, 4, down3...)),
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
		{"full shutdown with one allowlisted canary flapping", join(ordinaryDark, set("aflap", ClassAllowlisted, 1, flap...), set("a", ClassAllowlisted, 3, down3...)),
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
		{"online, the allowlisted answer too", join(set("d", ClassDomestic, 4, up3...), set("f", ClassForeign, 4, up3...), set("a", ClassAllowlisted, 4, up3...)),
			nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"online, the allowlisted all fail", join(set("d", ClassDomestic, 4, up3...), set("f", ClassForeign, 4, up3...), set("a", ClassAllowlisted, 4, down3...)),
			nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"online with one allowlisted canary flapping", join(set("d", ClassDomestic, 4, up3...), set("f", ClassForeign, 4, up3...), set("a", ClassAllowlisted, 3, up3...), set("aflap", ClassAllowlisted, 1, flap...)),
			nettests.NetworkOnline, ReasonAllCanariesAnswer},
		// Foreign answers, so nothing keeps the world out: not an allowlist. The
		// ordinary domestic class fails alone, which is a partial shutdown (canary
		// loss) whatever the allowlisted canaries do.
		{"foreign fine, ordinary domestic dark, allowlisted answer", join(set("d", ClassDomestic, 4, down3...), set("f", ClassForeign, 4, up3...), set("a", ClassAllowlisted, 4, up3...)),
			nettests.NetworkPartialShutdown, ReasonLoss},
		// The ordinary domestic class answers: the existing rule decides, on ordinary
		// evidence.
		{"foreign cut, ordinary domestic up, allowlisted up", join(set("d", ClassDomestic, 4, up3...), set("f", ClassForeign, 4, down3...), set("a", ClassAllowlisted, 4, up3...)),
			nettests.NetworkWhitelist, ReasonForeignCut},
		// Ordinary domestic answers in every round at half strength: above the 10 %
		// cut, so the allowlisted rule does not apply, and the class is neither cut
		// nor fine.
		{"foreign cut, ordinary domestic at 50 %, allowlisted up", join(set("d", ClassDomestic, 4, map[string]Tally{ProtoTCP: {1, 2}, ProtoTLS: {1, 2}, ProtoQUIC: {1, 2}}, map[string]Tally{ProtoTCP: {1, 2}, ProtoTLS: {1, 2}, ProtoQUIC: {1, 2}}, map[string]Tally{ProtoTCP: {1, 2}, ProtoTLS: {1, 2}, ProtoQUIC: {1, 2}}), set("f", ClassForeign, 4, down3...), set("a", ClassAllowlisted, 4, up3...)),
			nettests.NetworkWhitelist, ReasonForeignCut},
		// Ordinary domestic canaries answer in two rounds of three (50 % of
		// attempts): the class is not cut, so the allowlisted canaries cannot turn
		// the flapping into an allowlist.
		{"domestic flaps while foreign is cut, allowlisted up", join(set("d", ClassDomestic, 4, flap...), set("f", ClassForeign, 4, down3...), set("a", ClassAllowlisted, 4, up3...)),
			nettests.NetworkPartialShutdown, ReasonFlapping},
		{"only allowlisted canaries configured, all answer", set("a", ClassAllowlisted, 4, up3...),
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Decide(Evidence{Local: healthyLocal, Canaries: tt.canaries, Rounds: 3})
			if a.Verdict != tt.wantVerdict || a.Reason != tt.wantReason {
				t.Fatalf("verdict %s (%s), want %s (%s); reach %v, excluded %v", a.Verdict, a.Reason, tt.wantVerdict, tt.wantReason, a.Reach, a.Excluded)
			}
		})
	}
}

// TestDecideAllowlistedKeptApart: allowlisted canaries have their own reach and
// never enter the "all" figure the online and shutdown rules read.
func TestDecideAllowlistedKeptApart(t *testing.T) {
	up3 := []map[string]Tally{upRound(), upRound(), upRound()}
	down3 := []map[string]Tally{downRound(), downRound(), downRound()}
	a := Decide(Evidence{Local: healthyLocal, Rounds: 3, Canaries: join(
		set("d", ClassDomestic, 2, down3...), set("f", ClassForeign, 2, down3...), set("a", ClassAllowlisted, 2, up3...))})
	for i, r := range a.Reach {
		if r[reachAll] != (Tally{0, 24}) || r[ClassAllowlisted] != (Tally{6, 6}) {
			t.Errorf("round %d reach %v: want all 0/24 and allowlisted 6/6", i, r)
		}
	}
	if got := a.Ratios[ClassAllowlisted][ProtoTLS]; got != (Tally{6, 6}) {
		t.Errorf("allowlisted tls ratio %+v, want 6/6", got)
	}
}
