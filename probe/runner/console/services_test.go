package console

import (
	"bytes"
	"testing"

	"github.com/vantage-probe/vantage/probe/runner"
)

func TestServiceBlock(t *testing.T) {
	s := &runner.Summary{Services: map[string]runner.ServiceSummary{
		"whatsapp": {Verdict: "blocked", Blocked: "chat endpoints: tcp.timeout", Methods: []string{"tcp.timeout"}},
		"telegram": {Verdict: "ok", Methods: []string{}},
		"signal":   {Verdict: "inconclusive", Methods: []string{}},
		"tor":      {Verdict: "blocked", Blocked: "directory authorities: tcp.timeout", Detail: "0/9 authorities reachable"},
		"dnscheck": {Verdict: "degraded", Blocked: "Cloudflare DoH: tls.reset", Detail: "7/8 encrypted resolvers usable"},
	}}
	var b bytes.Buffer
	ServiceBlock(&b, s, func(_, text string) string { return text })
	want := "Messaging: WhatsApp blocked (chat endpoints: tcp.timeout), Telegram ok, Signal inconclusive\n" +
		"Escape routes: Tor blocked (0/9 authorities reachable; directory authorities: tcp.timeout), " +
		"encrypted DNS degraded (7/8 encrypted resolvers usable; Cloudflare DoH: tls.reset)\n"
	if b.String() != want {
		t.Errorf("block:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	ServiceBlock(&b, &runner.Summary{}, func(_, text string) string { return text })
	if b.Len() != 0 {
		t.Errorf("a run without services wrote %q", b.String())
	}
}
