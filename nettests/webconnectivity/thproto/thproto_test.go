package thproto

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	cases := []struct {
		name, body string
		ok         bool
	}{
		{"good", `{"http_request":"https://example.org/","tcp_connect":["93.184.216.34:443","[2606:2800::1]:443"]}`, true},
		{"not json", `{"http_request":`, false},
		{"trailing", `{"http_request":"https://example.org/"} {}`, false},
		{"ftp", `{"http_request":"ftp://example.org/"}`, false},
		{"no host", `{"http_request":"https:///x"}`, false},
		{"endpoint without port", `{"http_request":"http://a.example/","tcp_connect":["1.2.3.4"]}`, false},
		{"endpoint name", `{"http_request":"http://a.example/","tcp_connect":["example.org:80"]}`, false},
		{"header injection", `{"http_request":"http://a.example/","http_request_headers":{"X":["a\r\nB: c"]}}`, false},
		{"too many endpoints", `{"http_request":"http://a.example/","tcp_connect":[` + strings.Repeat(`"1.2.3.4:80",`, MaxEndpoints) + `"1.2.3.4:80"]}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := ParseRequest(strings.NewReader(c.body))
			if c.ok && err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			if !c.ok && !errors.Is(err, ErrBadRequest) {
				t.Fatalf("ParseRequest = %+v, %v; want ErrBadRequest", req, err)
			}
		})
	}
}

func TestParseRequestTooLarge(t *testing.T) {
	body := `{"http_request":"https://example.org/` + strings.Repeat("a", MaxRequestBytes) + `"}`
	if _, err := ParseRequest(strings.NewReader(body)); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("oversized request accepted: %v", err)
	}
}

func TestIsBogon(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "0.0.0.0": true, "192.168.1.1": true,
		"100.64.0.1": true, "::1": true, "fe80::1": true, "::ffff:10.0.0.1": true, "junk": true,
		"8.8.8.8": false, "93.184.216.34": false, "2606:4700::1111": false, "64:ff9b::808:808": false,
	} {
		if got := IsBogon(addr); got != want {
			t.Errorf("IsBogon(%q) = %v, want %v", addr, got, want)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add(`{"http_request":"https://example.org/","tcp_connect":["1.2.3.4:443"]}`)
	f.Add(`{"http_request":"http://[::1]:80/","x_quic_enabled":true}`)
	f.Fuzz(func(t *testing.T, body string) {
		req, err := ParseRequest(strings.NewReader(body))
		if err == nil && req.Validate() != nil {
			t.Fatalf("accepted an invalid request: %+v", req)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	f.Add(`{"tcp_connect":{"1.2.3.4:443":{"status":true,"failure":null}},"http_request":{"status_code":200}}`)
	f.Fuzz(func(t *testing.T, body string) {
		_, _ = ParseResponse(strings.NewReader(body), 1<<20) // must not panic
	})
}
