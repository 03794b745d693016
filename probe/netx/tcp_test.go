package netx_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"testing"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

func TestDialTCPSuccessRecordsEvent(t *testing.T) {
	srv := netxtest.NewHTTPServer(t, http.NotFoundHandler())
	trace := newTrace()
	var c netx.Client
	conn, err := c.DialTCP(context.Background(), trace, srv.Addr)
	if err != nil {
		t.Fatalf("DialTCP: %v", err)
	}
	defer conn.Close()
	evs := trace.Events().TCPConnect
	if len(evs) != 1 {
		t.Fatalf("got %d tcp_connect events, want 1", len(evs))
	}
	ev := evs[0]
	port, _ := strconv.Atoi(srv.Port())
	if ev.IP != "127.0.0.1" || ev.Port != port || !ev.Status.Success || ev.Status.Failure != nil {
		t.Errorf("event = %+v, want success to 127.0.0.1:%d", ev, port)
	}
	if ev.TransactionID == 0 || netx.TransactionIDOf(conn) != ev.TransactionID {
		t.Errorf("conn transaction id %d, event %d: want equal and non-zero", netx.TransactionIDOf(conn), ev.TransactionID)
	}
	if ev.T < ev.T0 {
		t.Errorf("t %v before t0 %v", ev.T, ev.T0)
	}
}

func TestDialTCPRefused(t *testing.T) {
	trace := newTrace()
	var c netx.Client
	_, err := c.DialTCP(context.Background(), trace, netxtest.ClosedPort(t))
	if got := failure(err); got != netx.FailureConnectionRefused {
		t.Fatalf("failure = %q (%v), want %q", got, err, netx.FailureConnectionRefused)
	}
	ev := trace.Events().TCPConnect[0]
	if ev.Status.Success || deref(ev.Status.Failure) != netx.FailureConnectionRefused {
		t.Errorf("event status = %+v", ev.Status)
	}
}

// TestDialTCPClassifiesErrors injects the errors a kernel returns on paths that
// loopback cannot produce (unreachable routes, a connect that never completes).
func TestDialTCPClassifiesErrors(t *testing.T) {
	opErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"refused", opErr(syscall.ECONNREFUSED), netx.FailureConnectionRefused},
		{"reset", opErr(syscall.ECONNRESET), netx.FailureConnectionReset},
		{"host unreachable", opErr(syscall.EHOSTUNREACH), netx.FailureHostUnreachable},
		{"network unreachable", opErr(syscall.ENETUNREACH), netx.FailureNetworkUnreachable},
		{"kernel timeout", opErr(syscall.ETIMEDOUT), netx.FailureGenericTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := netx.Client{Dial: func(context.Context, string, string) (net.Conn, error) { return nil, tc.err }}
			trace := newTrace()
			_, err := c.DialTCP(context.Background(), trace, "192.0.2.1:443")
			if got := failure(err); got != tc.want {
				t.Errorf("failure = %q, want %q", got, tc.want)
			}
			if got := deref(trace.Events().TCPConnect[0].Status.Failure); got != tc.want {
				t.Errorf("event failure = %q, want %q", got, tc.want)
			}
			if operation(err) != "connect" {
				t.Errorf("operation = %q, want connect", operation(err))
			}
		})
	}
}

func TestDialTCPTimeoutUsesStepTimeout(t *testing.T) {
	c := netx.Client{
		Timeout: testTimeout,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			<-ctx.Done() // a SYN that is never answered
			return nil, ctx.Err()
		},
	}
	_, err := c.DialTCP(context.Background(), newTrace(), "192.0.2.1:443")
	if got := failure(err); got != netx.FailureGenericTimeout {
		t.Fatalf("failure = %q, want %q", got, netx.FailureGenericTimeout)
	}
}

func TestDialTCPRejectsAddressWithoutPort(t *testing.T) {
	var c netx.Client
	if _, err := c.DialTCP(context.Background(), newTrace(), "127.0.0.1"); err == nil {
		t.Fatal("DialTCP without a port succeeded")
	}
}

func TestMeasuredConnRecordsCappedIOEvents(t *testing.T) {
	srv := netxtest.NewHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	trace := newTrace()
	c := netx.Client{MaxIOEvents: 3}
	conn, err := c.DialTCP(context.Background(), trace, srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := 0; i < 2; i++ { // two requests: 2 writes + at least 2 reads > cap
		io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		buf := make([]byte, 4096)
		if _, err := conn.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	evs := trace.Events().NetworkEvents
	if len(evs) != 3 {
		t.Fatalf("got %d network events, want the cap of 3", len(evs))
	}
	if evs[0].Operation != "write" || evs[0].NumBytes != int64(len("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) {
		t.Errorf("first event = %+v, want the write of the request", evs[0])
	}
	if evs[1].Operation != "read" || evs[1].NumBytes == 0 || evs[1].TransactionID != netx.TransactionIDOf(conn) {
		t.Errorf("second event = %+v, want a read on the same transaction", evs[1])
	}
}

func TestPrimitivesAcceptNilTrace(t *testing.T) {
	srv := netxtest.NewHTTPServer(t, http.NotFoundHandler())
	var c netx.Client
	conn, err := c.DialTCP(context.Background(), nil, srv.Addr)
	if err != nil {
		t.Fatalf("DialTCP with a nil trace: %v", err)
	}
	conn.Close()
	if _, err := c.Fetch(context.Background(), nil, srv.URL, netx.FetchOptions{}); err != nil {
		t.Fatalf("Fetch with a nil trace: %v", err)
	}
}
