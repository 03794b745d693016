package thserver

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
)

// FuzzReadRequest feeds the helper's request reader arbitrary bodies and content
// types, with the lab flag off. Only the reading and checking run (nothing is
// measured, so nothing is dialled): a request is accepted only if it validates and
// its URL is not a non-public IP literal, every refusal is a 4xx, and every error
// body the helper would write is valid JSON.
func FuzzReadRequest(f *testing.F) {
	f.Add("application/json", []byte(`{"http_request":"https://example.org/","tcp_connect":["93.184.216.34:443"]}`))
	f.Add("", []byte(`{"http_request":"http://127.0.0.1/"}`))
	f.Add("", []byte(`{"http_request":"http://[::ffff:127.0.0.1]/"}`))
	f.Add("", []byte(`{"http_request":"http://[::1]:8080/admin"}`))
	f.Add("", []byte(`{"http_request":"http://169.254.169.254/latest/meta-data/"}`))
	f.Add("", []byte(`{"http_request":"http://[fe80::1%25eth0]/"}`))
	f.Add("", []byte(`{"http_request":"https://example.org/","http_request_headers":{"X\r\nInjected":["v"]}}`))
	f.Add("text/plain", []byte(`{}`))
	f.Add("application/json", bytes.Repeat([]byte(`{"a":`), 5000))
	f.Add("application/json", []byte(`{"http_request":"https://example.org/"} trailing`))
	s, err := New(Config{Lookup: func(context.Context, string) ([]string, error) { return nil, nil }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		req, status, err := s.readRequest(w, r)
		if err != nil {
			if status < 400 || status > 499 {
				t.Fatalf("refusal with status %d: %v", status, err)
			}
			out := httptest.NewRecorder()
			writeError(out, status, err.Error())
			if !json.Valid(out.Body.Bytes()) {
				t.Fatalf("error body is not JSON: %q", out.Body.Bytes())
			}
			return
		}
		if req == nil || req.Validate() != nil {
			t.Fatalf("accepted an invalid request %+v", req)
		}
		u, _ := url.Parse(req.HTTPRequest)
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil && thproto.IsBogon(ip.Unmap().String()) {
			t.Fatalf("accepted a request for the non-public address %s", ip)
		}
	})
}
