package collectorreach

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/upload"
)

func opErr(op string, errno syscall.Errno) error {
	return &url.Error{Op: "Post", URL: "https://c.example/api/v1/measurements",
		Err: &net.OpError{Op: op, Net: "tcp", Err: &os.SyscallError{Syscall: op, Err: errno}}}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "net/http: TLS handshake timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestKeysClassifyTheFailedStep(t *testing.T) {
	route := upload.Route{URL: "https://c.example"}
	for _, tc := range []struct {
		op      string
		err     error
		status  int
		failure string
		method  string
	}{
		{"connect", opErr("dial", syscall.ECONNREFUSED), 0, "connection_refused", "tcp.reset"},
		{"connect", opErr("dial", syscall.ECONNRESET), 0, "connection_reset", "tcp.reset"},
		{"connect", opErr("dial", syscall.EHOSTUNREACH), 0, "host_unreachable", "tcp.unreachable"},
		{"connect", &url.Error{Op: "Post", Err: &net.OpError{Op: "dial", Err: timeoutErr{}}}, 0, "generic_timeout_error", "tcp.timeout"},
		{"tls_handshake", opErr("read", syscall.ECONNRESET), 0, "connection_reset", "tls.reset"},
		{"tls_handshake", &url.Error{Op: "Post", Err: timeoutErr{}}, 0, "generic_timeout_error", "tls.timeout"},
		{"tls_handshake", &url.Error{Op: "Post", Err: x509.UnknownAuthorityError{}}, 0, "ssl_unknown_authority", "tls.mitm"},
		{"resolve", &url.Error{Op: "Post", Err: &net.DNSError{Err: "no such host", Name: "c.example", IsNotFound: true}}, 0, "dns_nxdomain_error", "dns.nxdomain"},
		{"http_round_trip", opErr("read", syscall.ECONNRESET), 0, "connection_reset", "http.failure"},
		{"", nil, 200, "", "http.blockpage"},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.op, tc.method), func(t *testing.T) {
			f := upload.Failure{Route: route, Operation: tc.op, Err: tc.err, Status: tc.status, Detail: "d", Elapsed: time.Second}
			tk := Keys(f)
			if tk.Method == nil || *tk.Method != tc.method {
				t.Errorf("method = %v, want %s", deref(tk.Method), tc.method)
			}
			if tc.err != nil && (tk.Failure == nil || *tk.Failure != tc.failure || *tk.FailedOperation != tc.op || tk.StatusCode != nil) {
				t.Errorf("failure = %v at %v, status %v", deref(tk.Failure), deref(tk.FailedOperation), tk.StatusCode)
			}
			if tc.err == nil && (tk.Failure != nil || tk.StatusCode == nil || *tk.StatusCode != tc.status) {
				t.Errorf("an answer: failure %v, status %v", deref(tk.Failure), tk.StatusCode)
			}
		})
	}
}

func TestKeysDescribeTheRouteWithoutSecrets(t *testing.T) {
	f := upload.Failure{Route: upload.Route{URL: "https://c.example", Front: "cdn.example", Proxy: "socks5h://u:secret@127.0.0.1:9050"},
		Operation: "connect", Err: opErr("dial", syscall.ECONNREFUSED), Detail: "dial tcp 203.0.113.9:443: connection refused"}
	b, _ := json.Marshal(Keys(f))
	s := string(b)
	for _, want := range []string{`"collector":"https://c.example"`, `"front":"cdn.example"`, `"proxy":"socks5h://127.0.0.1:9050"`} {
		if !strings.Contains(s, want) {
			t.Errorf("keys %s lack %s", s, want)
		}
	}
	if strings.Contains(s, "secret") || strings.Contains(s, "203.0.113.9") {
		t.Errorf("keys leak the proxy password or an address: %s", s)
	}
	if _, err := (Measurer{}).Run(context.Background(), "", nil); err == nil {
		t.Error("a Measurer without a failure must refuse to run")
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
