package webconnectivity

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
)

// fuzzHelperAddress is a documentation address (RFC 5737) a fuzzed helper answer may
// echo; no error text the probe keeps may carry it.
const fuzzHelperAddress = "198.51.100.23"

// roundTripFunc is an http.RoundTripper made of a func: the fuzzed helper answers
// without any network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

var _ http.RoundTripper = roundTripFunc(nil)

// FuzzControlResponse feeds the probe's control client arbitrary helper answers
// (status and body): no panic, an answer is accepted only with status 200, and the
// error the probe records never carries an address the helper sent.
func FuzzControlResponse(f *testing.F) {
	f.Add(200, []byte(`{"tcp_connect":{"1.2.3.4:443":{"status":true,"failure":null}},"http_request":{"status_code":200,"body_length":5},"x_client_ip":"`+fuzzHelperAddress+`"}`))
	f.Add(200, []byte(`{"dns":{"addrs":["`+fuzzHelperAddress+`"],"failure":null},"ip_info":{"`+fuzzHelperAddress+`":{"asn":1,"flags":3}}}`))
	f.Add(200, []byte(`{"http_request":{"headers":{"X":"\ud800"},"body_length":-1}}`))
	f.Add(200, []byte(`{"tcp_connect":{"`+fuzzHelperAddress+`:443":{"failure":"connect to `+fuzzHelperAddress+` failed"}}}`))
	f.Add(500, []byte(`{"error":"overloaded at `+fuzzHelperAddress+`"}`))
	f.Add(200, bytes.Repeat([]byte("["), 10000))
	f.Add(200, []byte(`{} {}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			status = 200
		}
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{
				StatusCode: status,
				Header:     http.Header{"Content-Type": {"application/json"}},
				Body:       io.NopCloser(bytes.NewReader(body)),
				Request:    r,
			}, nil
		})}
		cc := &controlClient{helpers: []string{"https://helper.example/"}, client: client, budget: time.Second}
		resp, helper, err := cc.query(context.Background(), &thproto.Request{HTTPRequest: "https://example.org/"})
		if err == nil {
			if status != http.StatusOK || resp == nil || helper != "https://helper.example/" {
				t.Fatalf("accepted status %d answer %v from %q", status, resp, helper)
			}
			return
		}
		if strings.Contains(err.Error(), fuzzHelperAddress) {
			t.Fatalf("the control failure carries the helper-sent address: %v", err)
		}
	})
}
