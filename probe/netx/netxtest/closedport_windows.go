package netxtest

import (
	"net"
	"strconv"
	"syscall"
	"testing"
)

// ClosedPort returns a loopback address that refuses connections, held as on Unix
// by a socket that is bound but never listens.
func ClosedPort(t testing.TB) string {
	t.Helper()
	h, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, syscall.IPPROTO_TCP)
	if err != nil {
		t.Fatalf("netxtest: socket: %v", err)
	}
	t.Cleanup(func() { syscall.Closesocket(h) })
	if err := syscall.Bind(h, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("netxtest: bind: %v", err)
	}
	sa, err := syscall.Getsockname(h)
	if err != nil {
		t.Fatalf("netxtest: getsockname: %v", err)
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		t.Fatalf("netxtest: unexpected socket address %T", sa)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(in4.Port))
}
