package ooni_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/report/ooni"
)

func convert(t *testing.T, m string) map[string]any {
	t.Helper()
	out, err := ooni.Convert([]byte(m))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestBlockingHasOnlyOONIValues(t *testing.T) {
	cases := []struct {
		verdict, method, oldBlocking string
		blocking, accessible         any
	}{
		{"ok", "", "false", false, true},
		{"throttled", "", `"throttled"`, false, true},
		{"down", "", "false", false, false},
		{"blocked", "dns.nxdomain", `"dns"`, "dns", false},
		{"blocked", "tcp.reset", `"tcp_ip"`, "tcp_ip", false},
		{"blocked", "tls.mitm", `"http-failure"`, "http-failure", false},
		{"blocked", "http.blockpage", `"http-diff"`, "http-diff", false},
		{"blocked", "http.diff", `"http-diff"`, "http-diff", false},
		{"blocked", "quic.blocked", `"quic"`, "http-failure", false},
		{"intermittent", "tls.reset", `"http-failure"`, nil, nil},
		{"inconclusive", "", "null", nil, nil},
	}
	for _, c := range cases {
		method := "null"
		if c.method != "" {
			method = `"` + c.method + `"`
		}
		v := convert(t, `{"test_name":"web_connectivity","test_version":"0.1.0","test_runtime":1.25,"test_keys":{"verdict":"`+
			c.verdict+`","method":`+method+`,"reason":null,"evidence":{"detail":"x"},"blocking":`+c.oldBlocking+`,"accessible":null}}`)
		tk := v["test_keys"].(map[string]any)
		if tk["blocking"] != c.blocking || tk["accessible"] != c.accessible {
			t.Errorf("%s %s: blocking %v accessible %v, want %v %v", c.verdict, c.method, tk["blocking"], tk["accessible"], c.blocking, c.accessible)
		}
		if tk["x_vantage_verdict"] != c.verdict || tk["verdict"] != nil || tk["evidence"] != nil || tk["x_vantage_evidence"] == nil {
			t.Errorf("%s: vantage keys %v", c.verdict, tk)
		}
		if v["test_version"] != "0.0.0-vantage.0.1.0" || v["test_runtime"] != 1.25 {
			t.Errorf("test_version %v runtime %v", v["test_version"], v["test_runtime"])
		}
	}
}

func TestInterceptedHandshakeCarriesTheSSLFailure(t *testing.T) {
	v := convert(t, `{"test_name":"web_connectivity","test_version":"0.1.0","test_keys":{"verdict":"blocked","method":"tls.mitm",
		"tls_handshakes":[{"failure":null,"x_verified":false,"x_verify_failure":"ssl_unknown_authority"},
		{"failure":"connection_reset","x_verify_failure":null},{"failure":null,"x_verified":true,"x_verify_failure":null}]}}`)
	hs := v["test_keys"].(map[string]any)["tls_handshakes"].([]any)
	want := []any{"ssl_unknown_authority", "connection_reset", nil}
	for i, e := range hs {
		ev := e.(map[string]any)
		if ev["failure"] != want[i] {
			t.Errorf("handshake %d: failure %v, want %v", i, ev["failure"], want[i])
		}
	}
	if hs[0].(map[string]any)["x_verify_failure"] != "ssl_unknown_authority" {
		t.Error("x_verify_failure was not kept")
	}
}

func TestOtherTestsKeepOnlyOONIBlocking(t *testing.T) {
	v := convert(t, `{"test_name":"telegram","test_version":"0.1.0","test_keys":{"verdict":"blocked","blocking":"quic"}}`)
	tk := v["test_keys"].(map[string]any)
	if tk["blocking"] != nil || tk["x_vantage_blocking"] != "quic" || v["test_version"] != "0.1.0" {
		t.Errorf("%v", v)
	}
	if out, err := ooni.Convert([]byte(`{"test_name":"x","test_keys":7}`)); err != nil || !strings.Contains(string(out), `"test_keys":7`) {
		t.Errorf("odd test_keys: %s %v", out, err)
	}
	if _, err := ooni.Convert([]byte(`[1]`)); err == nil {
		t.Error("a JSON array converted")
	}
}
