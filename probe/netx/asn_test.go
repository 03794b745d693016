package netx

import (
	"net/netip"
	"testing"
	"time"
)

func TestTraceFillsTheASNOfAnswers(t *testing.T) {
	tr := NewTrace(time.Now(), nil)
	tr.SetASNLookup(func(ip netip.Addr) (int64, string) {
		if netip.MustParsePrefix("10.0.0.0/16").Contains(ip) {
			return 21299, "Kar-Tel LLC"
		}
		return 0, ""
	})
	shared := []DNSAnswer{
		{AnswerType: "CNAME", Hostname: "edge.site.test"},
		{AnswerType: "A", IPv4: "10.0.1.2"},
		{AnswerType: "AAAA", IPv6: "2001:db8::1"},
		{AnswerType: "A", IPv4: "::ffff:10.0.9.9"},
	}
	tr.AddQuery(DNSQueryEvent{Hostname: "site.test", Answers: shared})
	got := tr.Events().Queries[0].Answers
	want := []int64{0, 21299, 0, 21299}
	for i, a := range got {
		if a.ASN != want[i] {
			t.Errorf("answer %d (%+v): asn %d, want %d", i, a, a.ASN, want[i])
		}
	}
	if got[1].ASOrgName != "Kar-Tel LLC" {
		t.Errorf("as_org_name %q", got[1].ASOrgName)
	}
	if shared[1].ASN != 0 {
		t.Errorf("the caller's answers were changed: %+v", shared[1])
	}

	plain := NewTrace(time.Now(), nil)
	plain.AddQuery(DNSQueryEvent{Answers: []DNSAnswer{{AnswerType: "A", IPv4: "10.0.1.2"}}})
	if a := plain.Events().Queries[0].Answers[0]; a.ASN != 0 || a.ASOrgName != "" {
		t.Errorf("without a database: %+v", a)
	}
}
