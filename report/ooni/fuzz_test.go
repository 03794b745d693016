package ooni_test

import (
	"encoding/json"
	"testing"

	"github.com/vantage-probe/vantage/report/ooni"
)

// FuzzConvert: any measurement a probe signed converts without a panic, and the
// result is JSON whose web_connectivity blocking is one of OONI's values.
func FuzzConvert(f *testing.F) {
	f.Add([]byte(`{"test_name":"web_connectivity","test_version":"0.1.0","test_keys":{"verdict":"blocked","method":"tls.mitm","tls_handshakes":[{"failure":null,"x_verify_failure":"ssl_unknown_authority"}]}}`))
	f.Add([]byte(`{"test_name":"telegram","test_keys":{"blocking":"quic","tls_handshakes":[7,null,{}]}}`))
	f.Fuzz(func(t *testing.T, m []byte) {
		out, err := ooni.Convert(m)
		if err != nil {
			return
		}
		var v map[string]any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("output is not JSON: %v", err)
		}
		tk, _ := v["test_keys"].(map[string]any)
		if v["test_name"] == "web_connectivity" && tk != nil {
			switch b := tk["blocking"].(type) {
			case nil:
			case bool:
				if b {
					t.Fatal("blocking true")
				}
			case string:
				if b != "dns" && b != "tcp_ip" && b != "http-diff" && b != "http-failure" {
					t.Fatalf("blocking %q", b)
				}
			default:
				t.Fatalf("blocking %v", b)
			}
		}
	})
}
