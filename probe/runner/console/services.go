package console

import (
	"fmt"
	"io"
	"strings"

	"github.com/vantage-probe/vantage/probe/runner"
)

// serviceLines are the summary's service block: a line per group, each service
// in run order with its verdict and, when something is blocked, what.
var serviceLines = []struct {
	label    string
	services []struct{ name, display string }
}{
	{"Messaging", []struct{ name, display string }{
		{"whatsapp", "WhatsApp"}, {"telegram", "Telegram"}, {"signal", "Signal"}, {"facebook_messenger", "Messenger"}}},
	{"Escape routes", []struct{ name, display string }{{"tor", "Tor"}, {"dnscheck", "encrypted DNS"}}},
}

// ServiceBlock writes "Messaging: WhatsApp blocked (chat endpoints: tcp.timeout),
// Telegram ok" and the escape routes' line; nothing for a group the run left out.
func ServiceBlock(w io.Writer, s *runner.Summary, paint func(code, text string) string) {
	for _, group := range serviceLines {
		var parts []string
		for _, svc := range group.services {
			sum, ok := s.Services[svc.name]
			if !ok {
				continue
			}
			parts = append(parts, serviceText(svc.display, sum, paint))
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "%s: %s\n", paint(ansiBold, group.label), strings.Join(parts, ", "))
		}
	}
}

func serviceText(display string, sum runner.ServiceSummary, paint func(code, text string) string) string {
	var notes []string
	if sum.Detail != "" {
		notes = append(notes, sum.Detail)
	}
	if sum.Blocked != "" {
		notes = append(notes, sum.Blocked)
	}
	text := display + " " + paintVerdict(sum.Verdict, paint)
	if len(notes) > 0 {
		text += " (" + strings.Join(notes, "; ") + ")"
	}
	return text
}

func paintVerdict(v string, paint func(code, text string) string) string {
	switch v {
	case "ok":
		return paint(ansiGreen, v)
	case "blocked":
		return paint(ansiRed+ansiBold, v)
	case "degraded":
		return paint(ansiYellow, v)
	}
	return v
}
