package service

import (
	"reflect"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
)

func ep(id, role, op, failure string) Endpoint {
	e := Endpoint{ID: id, Role: role}
	if failure != "" {
		f := failure
		e.Failure = &f
		e.FailedOperation = &op
	}
	return e
}

func TestMethodOf(t *testing.T) {
	cases := []struct{ op, failure, want string }{
		{"resolve", netx.FailureDNSNXDOMAIN, "dns.nxdomain"},
		{"resolve", netx.FailureGenericTimeout, "dns.timeout"},
		{"resolve", netx.FailureDNSBogon, "dns.bogon"},
		{"resolve", netx.FailureDNSServfail, "dns.failure"},
		{"connect", netx.FailureGenericTimeout, "tcp.timeout"},
		{"connect", netx.FailureConnectionRefused, "tcp.reset"},
		{"connect", netx.FailureConnectionReset, "tcp.reset"},
		{"connect", netx.FailureHostUnreachable, "tcp.unreachable"},
		{"connect", netx.FailureNetworkUnreachable, "tcp.unreachable"},
		{"tls_handshake", netx.FailureConnectionReset, "tls.reset"},
		{"tls_handshake", netx.FailureGenericTimeout, "tls.timeout"},
		{"tls_handshake", netx.FailureEOF, "tls.eof"},
		{"tls_handshake", netx.FailureSSLUnknownAuthority, "tls.mitm"},
		{"tls_handshake", netx.FailureSSLInvalidHostname, "tls.mitm"},
		{"tls_handshake", netx.FailureSSLInvalidCertificate, "tls.mitm"},
		{"http_round_trip", netx.FailureConnectionReset, "http.failure"},
		{"read", netx.FailureEOF, "http.failure"},
	}
	for _, c := range cases {
		if got := MethodOf(c.op, c.failure); got != c.want {
			t.Errorf("MethodOf(%s, %s) = %s, want %s", c.op, c.failure, got, c.want)
		}
	}
}

// verdicts returns "id=verdict[/method]" for each endpoint.
func verdicts(eps []Endpoint) []string {
	var out []string
	for _, e := range eps {
		s := e.ID + "=" + e.Verdict
		if e.Method != nil {
			s += "/" + *e.Method
		}
		out = append(out, s)
	}
	return out
}

func TestJudge(t *testing.T) {
	cases := []struct {
		name   string
		eps    []Endpoint
		reason string
		want   []string
	}{
		{"all answer", []Endpoint{ep("a", "chat", "", ""), ep("b", "chat", "", "")}, "", []string{"a=ok", "b=ok"}},
		// The trap: one server of the pool down for everyone is not blocking.
		{"one of a pool fails", []Endpoint{ep("a", "chat", "", ""), ep("b", "chat", "connect", netx.FailureGenericTimeout)}, "",
			[]string{"a=ok", "b=down"}},
		{"the whole pool fails", []Endpoint{ep("a", "chat", "connect", netx.FailureGenericTimeout), ep("b", "chat", "connect", netx.FailureConnectionRefused)}, "",
			[]string{"a=blocked/tcp.timeout", "b=blocked/tcp.reset"}},
		// Siblings are per role: a web client answering says nothing of the chat pool.
		{"another role answers", []Endpoint{ep("a", "chat", "connect", netx.FailureGenericTimeout), ep("w", "web", "", "")}, "",
			[]string{"a=blocked/tcp.timeout", "w=ok"}},
		{"mitm stays blocked beside siblings", []Endpoint{ep("a", "backend", "", ""), ep("b", "backend", "tls_handshake", netx.FailureSSLUnknownAuthority)}, "",
			[]string{"a=ok", "b=blocked/tls.mitm"}},
		{"bogon stays blocked beside siblings", []Endpoint{ep("a", "chat", "", ""), ep("b", "chat", "resolve", netx.FailureDNSBogon)}, "",
			[]string{"a=ok", "b=blocked/dns.bogon"}},
		{"foreign answer then failure", []Endpoint{ep("a", "api", "", ""), consistent(ep("b", "api", "connect", netx.FailureGenericTimeout), false)}, "",
			[]string{"a=ok", "b=blocked/dns.inconsistent"}},
		// The trap: an answer outside the ASN whose chain verifies is the service.
		{"foreign answer that validates", []Endpoint{consistent(ep("a", "api", "", ""), false)}, "", []string{"a=ok"}},
		{"own answer then failure", []Endpoint{consistent(ep("a", "api", "connect", netx.FailureGenericTimeout), true)}, "", []string{"a=blocked/tcp.timeout"}},
		{"network down: failures inconclusive, ok stands", []Endpoint{ep("a", "chat", "", ""), ep("b", "web", "connect", netx.FailureGenericTimeout)},
			nettests.ReasonFullShutdown, []string{"a=ok", "b=inconclusive"}},
	}
	for _, c := range cases {
		Judge(c.eps, c.reason)
		if got := verdicts(c.eps); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func consistent(e Endpoint, v bool) Endpoint {
	e.DNSConsistent = &v
	return e
}

func TestDecideAlternatives(t *testing.T) {
	alt := []Role{{"cloudflare", "Cloudflare", false}, {"quad9", "Quad9", false}}
	if v := Decide(alt, []Endpoint{judged("c", "cloudflare", "blocked", "tls.reset"), judged("q", "quad9", "ok", "")}, ""); v.Verdict != "degraded" || v.Blocked != "Cloudflare: tls.reset" {
		t.Errorf("one of two blocked: %+v", v)
	}
	if v := Decide(alt, []Endpoint{judged("c", "cloudflare", "blocked", "tls.reset"), judged("q", "quad9", "blocked", "tcp.timeout")}, ""); v.Verdict != "blocked" {
		t.Errorf("all blocked: %+v", v)
	}
	if v := Decide(alt, []Endpoint{judged("c", "cloudflare", "ok", ""), judged("q", "quad9", "ok", "")}, ""); v.Verdict != "ok" {
		t.Errorf("all ok: %+v", v)
	}
}

var roles = []Role{{"dc", "data centres", true}, {"web", "web client", false}}

func judged(id, role, verdict, method string) Endpoint {
	e := Endpoint{ID: id, Role: role, Verdict: verdict}
	if method != "" {
		e.Method = &method
	}
	return e
}

func TestDecide(t *testing.T) {
	cases := []struct {
		name    string
		eps     []Endpoint
		reason  string
		verdict string
		blocked string
	}{
		{"all ok", []Endpoint{judged("a", "dc", "ok", ""), judged("w", "web", "ok", "")}, "", "ok", ""},
		{"a down server is no blocking", []Endpoint{judged("a", "dc", "ok", ""), judged("b", "dc", "down", ""), judged("w", "web", "ok", "")}, "", "ok", ""},
		// The trap: the web client reachable does not make the app reachable.
		{"every DC blocked, web ok", []Endpoint{judged("a", "dc", "blocked", "tcp.timeout"), judged("b", "dc", "blocked", "tcp.timeout"), judged("w", "web", "ok", "")},
			"", "blocked", "data centres: tcp.timeout"},
		{"both roles blocked", []Endpoint{judged("a", "dc", "blocked", "tcp.timeout"), judged("b", "dc", "blocked", "tcp.reset"), judged("w", "web", "blocked", "tls.reset")},
			"", "blocked", "data centres: tcp.reset, tcp.timeout; web client: tls.reset"},
		{"only the web client blocked", []Endpoint{judged("a", "dc", "ok", ""), judged("w", "web", "blocked", "tls.reset")}, "", "degraded", "web client: tls.reset"},
		{"one essential endpoint intercepted, others ok", []Endpoint{judged("a", "dc", "ok", ""), judged("b", "dc", "blocked", "tls.mitm")}, "", "degraded", "data centres: tls.mitm"},
		{"essential role not measured", []Endpoint{judged("w", "web", "ok", "")}, "", "inconclusive", ""},
		{"essential role all inconclusive", []Endpoint{judged("a", "dc", "inconclusive", ""), judged("w", "web", "ok", "")}, "", "inconclusive", ""},
		{"network down turns blocked inconclusive", []Endpoint{judged("a", "dc", "blocked", "tcp.timeout")}, nettests.ReasonFullShutdown, "inconclusive", ""},
		{"network down leaves ok", []Endpoint{judged("a", "dc", "ok", "")}, nettests.ReasonFullShutdown, "ok", ""},
	}
	for _, c := range cases {
		v := Decide(roles, c.eps, c.reason)
		if v.Verdict != c.verdict || v.Blocked != c.blocked {
			t.Errorf("%s: %+v, want %s %q", c.name, v, c.verdict, c.blocked)
		}
		if c.verdict == "inconclusive" && v.Reason == "" {
			t.Errorf("%s: inconclusive without a reason", c.name)
		}
		if c.reason != "" && c.verdict == "inconclusive" && v.Reason != c.reason {
			t.Errorf("%s: reason %q, want the network's %q", c.name, v.Reason, c.reason)
		}
	}
}

func TestKeysMarkInconclusive(t *testing.T) {
	k := &Keys{Endpoints: []Endpoint{judged("a", "dc", "ok", ""), judged("b", "dc", "blocked", "tcp.timeout")}}
	k.Set(Verdict{Verdict: VerdictBlocked, Blocked: "data centres: tcp.timeout", Methods: []string{"tcp.timeout"}})
	k.MarkInconclusive(nettests.ReasonLocalFailure)
	if v, b := k.ServiceVerdict(); v != "inconclusive" || b != "" || *k.Reason != "local_failure" || len(k.ServiceMethods()) != 0 {
		t.Errorf("keys %+v", k)
	}
	if got := verdicts(k.Endpoints); !reflect.DeepEqual(got, []string{"a=ok", "b=inconclusive"}) {
		t.Errorf("endpoints %v", got)
	}
	ok := &Keys{}
	ok.Set(Verdict{Verdict: VerdictOK})
	if ok.MarkInconclusive(nettests.ReasonFullShutdown); ok.Verdict != "ok" || ok.Reason != nil {
		t.Errorf("an ok service must stay ok: %+v", ok)
	}
}

func TestParse(t *testing.T) {
	good := `{"targets":[{"id":"a","role":"chat","host":"e1.whatsapp.net","port":5222,"source":"s"}]}`
	if l, err := Parse([]byte(good)); err != nil || len(l.Targets) != 1 {
		t.Fatalf("Parse(good) = %v, %v", l, err)
	}
	bad := map[string]string{
		"not json":      `{`,
		"no targets":    `{"targets":[]}`,
		"no id":         `{"targets":[{"role":"chat","host":"h","port":1}]}`,
		"no role":       `{"targets":[{"id":"a","host":"h","port":1}]}`,
		"bad port":      `{"targets":[{"id":"a","role":"r","host":"h","port":70000}]}`,
		"bad host":      `{"targets":[{"id":"a","role":"r","host":"bad host","port":1}]}`,
		"bad addr":      `{"targets":[{"id":"a","role":"r","host":"h","port":1,"addr":"nope"}]}`,
		"bad path":      `{"targets":[{"id":"a","role":"r","host":"h","port":1,"path":"x"}]}`,
		"repeated id":   `{"targets":[{"id":"a","role":"r","host":"h","port":1},{"id":"a","role":"r","host":"h","port":2}]}`,
		"bad prefix":    `{"targets":[{"id":"a","role":"r","host":"h","port":1}],"prefixes":["10.0.0.0/33"]}`,
		"bad test name": `{"targets":[{"id":"a","role":"r","host":"h","port":1}],"names":["a b"]}`,
	}
	for name, raw := range bad {
		if _, err := Parse([]byte(raw)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	_, err := Load("whatsapp", nil, "/nonexistent/targets.json")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/targets.json") || !strings.Contains(err.Error(), "whatsapp") {
		t.Errorf("Load: %v", err)
	}
	l, err := Load("whatsapp", []byte(`{"targets":[{"id":"a","role":"r","host":"h","port":1}]}`), "")
	if err != nil || l.Targets[0].ID != "a" {
		t.Errorf("embedded: %v %v", l, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"targets":[{"id":"a","role":"chat","host":"h","port":5222}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		l, err := Parse(raw)
		if err == nil && len(l.Targets) == 0 {
			t.Fatal("accepted an empty list")
		}
	})
}

func TestKeysMethodAndSkipped(t *testing.T) {
	k := &Keys{}
	k.Set(Verdict{Verdict: VerdictBlocked, Blocked: "x: tcp.reset, tcp.timeout", Methods: []string{"tcp.reset", "tcp.timeout"}})
	if k.Method == nil || *k.Method != "tcp.reset" {
		t.Errorf("method %v, want the first of the methods", k.Method)
	}
	k.Set(Verdict{Verdict: VerdictOK})
	if k.Method != nil || len(k.Methods) != 0 || k.Blocked != nil {
		t.Errorf("ok keys %+v", k)
	}
	s := Skipped(nettests.ReasonFullShutdown)
	if s.Verdict != VerdictInconclusive || *s.Reason != nettests.ReasonFullShutdown || s.Endpoints == nil || s.Method != nil {
		t.Errorf("skipped %+v", s)
	}
	if e := EmptyEvents(); e.Queries == nil || e.TCPConnect == nil || e.Requests == nil || e.NetworkEvents == nil {
		t.Errorf("empty events %+v", e)
	}
}
