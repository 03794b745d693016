package connectivity

import (
	"testing"

	"github.com/vantage-probe/vantage/nettests"
)

// TestVerdictNotMeasured: a local check this OS cannot make (Android's locked
// /proc, an OS without a route reader) is never read as a failed one: canaries
// decide as everywhere, a remote resolver's answer shows the local side works, a
// measured failure still counts, and only when nothing at all answers is the
// verdict local_failure, under its own reason.
func TestVerdictNotMeasured(t *testing.T) {
	unmeasured := func(l LocalChecks) LocalChecks {
		l.NotMeasured = []string{"default_route", "first_hop"}
		return l
	}
	up := join(pinSet("d", ClassDomestic, 3, tcpRounds(same(fullRound, 3)...)), pinSet("f", ClassForeign, 3, tcpRounds(same(fullRound, 3)...)))
	down := join(pinSet("d", ClassDomestic, 2, tcpRounds(same(Tally{0, 10}, 3)...)), pinSet("f", ClassForeign, 2, tcpRounds(same(Tally{0, 10}, 3)...)))
	yes, no := ptr(true), ptr(false)
	runPinCases(t, []pinCase{
		{"canaries answer", unmeasured(LocalChecks{Interface: yes}), up, nil,
			nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"canaries answer, interface unknown too", unmeasured(LocalChecks{}), up, nil,
			nettests.NetworkOnline, ReasonAllCanariesAnswer},
		{"silent canaries, remote resolver answers", unmeasured(LocalChecks{Interface: yes, Resolver: ResolverCheck{Answered: true}}), down, nil,
			nettests.NetworkFullShutdown, ReasonAllCanariesSilent},
		{"silent canaries, measured: no interface", unmeasured(LocalChecks{Interface: no}), down, nil,
			nettests.NetworkLocalFailure, ReasonNoInterface},
		{"nothing answers", unmeasured(LocalChecks{Interface: yes}), down, nil,
			nettests.NetworkLocalFailure, ReasonLocalUnmeasured},
		{"nothing answers, only a loopback stub", unmeasured(LocalChecks{Interface: yes, Resolver: ResolverCheck{Answered: true, LocalStub: true}}), down, nil,
			nettests.NetworkLocalFailure, ReasonLocalUnmeasured},
		// Measured and silent is another reason: the gateway was probed.
		{"measured silent gateway", LocalChecks{Interface: yes, DefaultRoute: yes, Gateways: []string{"192.168.1.1"}}, down, nil,
			nettests.NetworkLocalFailure, ReasonFirstHopSilent},
	})
}
