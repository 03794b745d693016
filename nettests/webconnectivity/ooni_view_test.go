package webconnectivity

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/report/ooni"
)

// ooniScore scores a measurement's test_keys as OONI's web_connectivity spec
// defines blocking and accessible (github.com/ooni/spec,
// nettests/ts-017-web-connectivity.md): blocking "dns", "tcp_ip", "http-diff" or
// "http-failure" → "anomaly"; false with accessible true → "ok"; false with
// accessible false → "down"; null → "unknown". Any other value is what OONI's
// pipeline logs as a probe bug: "invalid".
func ooniScore(tk map[string]any) string {
	switch b := tk["blocking"].(type) {
	case string:
		switch b {
		case "dns", "tcp_ip", "http-diff", "http-failure":
			return "anomaly"
		}
		return "invalid"
	case bool:
		if b {
			return "invalid"
		}
		switch tk["accessible"] {
		case true:
			return "ok"
		case false:
			return "down"
		}
		return "invalid"
	case nil:
		if tk["accessible"] != nil {
			return "invalid"
		}
		return "unknown"
	}
	return "invalid"
}

// checkOONIView converts the measurement of tk to OONI's shape and scores it with
// OONI's semantics: an anomaly exactly where vantage says blocked, never a value
// OONI does not define, vantage's verdict in its own key, a test_version OONI never
// used, and an intercepted handshake failed with an ssl_* failure.
func checkOONIView(t *testing.T, tk *TestKeys) {
	t.Helper()
	keys, err := json.Marshal(tk)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := json.Marshal(map[string]any{"test_name": "web_connectivity", "test_version": Version, "test_keys": json.RawMessage(keys)})
	out, err := ooni.Convert(m)
	if err != nil {
		t.Fatalf("ooni view: %v", err)
	}
	var view struct {
		TestVersion string         `json:"test_version"`
		TestKeys    map[string]any `json:"test_keys"`
	}
	if err := json.Unmarshal(out, &view); err != nil {
		t.Fatal(err)
	}
	score := ooniScore(view.TestKeys)
	if score == "invalid" {
		t.Fatalf("ooni view: blocking %v accessible %v are not OONI's values", view.TestKeys["blocking"], view.TestKeys["accessible"])
	}
	if (score == "anomaly") != (tk.Verdict == nettests.VerdictBlocked) {
		t.Errorf("ooni view scores %s (blocking %v) where vantage says %s", score, view.TestKeys["blocking"], tk.Verdict)
	}
	if tk.Verdict == nettests.VerdictDown && score != "down" || tk.Verdict == nettests.VerdictOK && score != "ok" {
		t.Errorf("ooni view scores %s where vantage says %s", score, tk.Verdict)
	}
	if view.TestKeys["x_vantage_verdict"] != tk.Verdict || view.TestKeys["verdict"] != nil {
		t.Errorf("ooni view: x_vantage_verdict %v verdict %v, want %s in the vantage key only", view.TestKeys["x_vantage_verdict"], view.TestKeys["verdict"], tk.Verdict)
	}
	if view.TestVersion == Version || !strings.HasPrefix(view.TestVersion, "0.0.0-vantage.") {
		t.Errorf("ooni view test_version %q", view.TestVersion)
	}
	if tk.Method != nil && *tk.Method == nettests.MethodTLSMITM {
		failed := false
		hs, _ := view.TestKeys["tls_handshakes"].([]any)
		for _, e := range hs {
			if f, _ := e.(map[string]any)["failure"].(string); strings.HasPrefix(f, "ssl_") {
				failed = true
			}
		}
		if !failed {
			t.Errorf("ooni view of an intercepted handshake: no tls_handshakes[].failure ssl_*: %v", hs)
		}
	}
}
