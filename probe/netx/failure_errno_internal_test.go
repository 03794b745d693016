package netx

import (
	"net"
	"net/url"
	"os"
	"runtime"
	"syscall"
	"testing"
)

// errnoCase is one error as an OS's net package returns it.
type errnoCase struct {
	name string
	err  error
	want string
}

// sysErr wraps errno as Go's net package does on every OS: *net.OpError around
// *os.SyscallError naming the system call.
func sysErr(op, syscallName string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Err: &os.SyscallError{Syscall: syscallName, Err: errno}}
}

// TestWindowsErrnos: the errors Windows returns (Winsock codes inside
// "connectex", "wsarecv", "wsasend", and the Win32 codes of overlapped I/O) map
// to the same vocabulary as their Unix counterparts.
func TestWindowsErrnos(t *testing.T) {
	cases := []errnoCase{
		{"WSAECONNREFUSED from connectex", sysErr("dial", "connectex", 10061), FailureConnectionRefused},
		{"ERROR_CONNECTION_REFUSED", sysErr("dial", "connectex", 1225), FailureConnectionRefused},
		{"WSAECONNRESET from wsarecv", sysErr("read", "wsarecv", 10054), FailureConnectionReset},
		{"WSAECONNRESET from wsasend", sysErr("write", "wsasend", 10054), FailureConnectionReset},
		{"WSAENETRESET", sysErr("read", "wsarecv", 10052), FailureConnectionReset},
		{"ERROR_NETNAME_DELETED", sysErr("read", "wsarecv", 64), FailureConnectionReset},
		{"WSAECONNABORTED", sysErr("read", "wsarecv", 10053), FailureConnectionAborted},
		{"ERROR_CONNECTION_ABORTED", sysErr("read", "wsarecv", 1236), FailureConnectionAborted},
		{"WSAEHOSTUNREACH", sysErr("dial", "connectex", 10065), FailureHostUnreachable},
		{"ERROR_HOST_UNREACHABLE", sysErr("dial", "connectex", 1232), FailureHostUnreachable},
		{"WSAENETUNREACH", sysErr("dial", "connectex", 10051), FailureNetworkUnreachable},
		{"ERROR_NETWORK_UNREACHABLE", sysErr("dial", "connectex", 1231), FailureNetworkUnreachable},
		{"WSAENETDOWN", sysErr("dial", "connectex", 10050), FailureNetworkDown},
		{"WSAETIMEDOUT", sysErr("dial", "connectex", 10060), FailureGenericTimeout},
		{"WSAEADDRNOTAVAIL", sysErr("dial", "connectex", 10049), FailureAddressNotAvailable},
		{"WSAEACCES", sysErr("dial", "connectex", 10013), FailurePermissionDenied},
		{"inside url.Error", &url.Error{Op: "Get", URL: "https://x.test/", Err: sysErr("read", "wsarecv", 10054)}, FailureConnectionReset},
		// Linux's numbers mean something else on Windows (104 is ERROR_CHILD_NOT_COMPLETE)
		// and must not be read as Linux's ECONNRESET there.
		{"Linux ECONNRESET number", sysErr("read", "wsarecv", 104), ""},
		{"Linux ECONNREFUSED number", sysErr("dial", "connectex", 111), ""},
		{"no errno", &net.OpError{Op: "read", Err: os.ErrClosed}, ""},
	}
	runErrnoCases(t, windowsErrnos, cases)
}

// TestDarwinErrnos: macOS's (BSD) errno numbers, which differ from Linux's.
func TestDarwinErrnos(t *testing.T) {
	cases := []errnoCase{
		{"ECONNREFUSED", sysErr("dial", "connect", 61), FailureConnectionRefused},
		{"ECONNRESET", sysErr("read", "read", 54), FailureConnectionReset},
		{"ECONNABORTED", sysErr("read", "read", 53), FailureConnectionAborted},
		{"EHOSTUNREACH", sysErr("dial", "connect", 65), FailureHostUnreachable},
		{"ENETUNREACH", sysErr("dial", "connect", 51), FailureNetworkUnreachable},
		{"ENETDOWN", sysErr("dial", "connect", 50), FailureNetworkDown},
		{"ETIMEDOUT", sysErr("dial", "connect", 60), FailureGenericTimeout},
		{"EADDRNOTAVAIL", sysErr("dial", "connect", 49), FailureAddressNotAvailable},
		{"EACCES", sysErr("dial", "connect", 13), FailurePermissionDenied},
		{"EPERM", sysErr("dial", "connect", 1), FailurePermissionDenied},
		{"EPIPE", sysErr("write", "write", 32), FailureConnectionReset},
		// Linux's ECONNRESET (104) and ECONNREFUSED (111) are unassigned on macOS;
		// macOS's 60 is Linux's ENOSTR: each number is read in its own OS only.
		{"Linux ECONNRESET number", sysErr("read", "read", 104), ""},
		{"Linux ECONNREFUSED number", sysErr("dial", "connect", 111), ""},
	}
	runErrnoCases(t, darwinErrnos, cases)
}

// TestThisOSUsesItsOwnTable: Classify reads this OS's numbers (run on Linux by
// make test, on Windows under wine by make cross-test).
func TestThisOSUsesItsOwnTable(t *testing.T) {
	want := map[string]errnoTable{"windows": windowsErrnos, "darwin": darwinErrnos}[runtime.GOOS]
	if want == nil {
		if osErrnos[syscall.ECONNRESET] != FailureConnectionReset {
			t.Fatalf("%s: syscall.ECONNRESET is not in this OS's table", runtime.GOOS)
		}
		return
	}
	if len(osErrnos) != len(want) {
		t.Fatalf("%s uses a table of %d rows, want its own of %d", runtime.GOOS, len(osErrnos), len(want))
	}
	for errno, failure := range want {
		if got := Classify(sysErr("read", "read", errno)); got != failure {
			t.Errorf("%s: Classify(errno %d) = %q, want %q", runtime.GOOS, errno, got, failure)
		}
	}
}

// TestWindowsAndDarwinTexts: the messages those OSes print for untyped errors
// (libraries that format instead of wrapping) meet the text rules.
func TestWindowsAndDarwinTexts(t *testing.T) {
	for text, want := range map[string]string{
		"read tcp [scrubbed]: wsarecv: An existing connection was forcibly closed by the remote host.":                                                                              FailureConnectionReset,
		"dial tcp [scrubbed]: connectex: No connection could be made because the target machine actively refused it.":                                                               FailureConnectionRefused,
		"dial tcp [scrubbed]: connectex: A connection attempt failed because the connected party did not properly respond after a period of time, or established connection failed": FailureGenericTimeout,
		"dial tcp [scrubbed]: connect: operation timed out":                                                                                                                         FailureGenericTimeout,
	} {
		if got := classifyText(text); got != want {
			t.Errorf("classifyText(%q) = %q, want %q", text, got, want)
		}
	}
}

func runErrnoCases(t *testing.T, table errnoTable, cases []errnoCase) {
	t.Helper()
	covered := map[syscall.Errno]bool{}
	for _, c := range cases {
		if got := classifyErrnoWith(table, c.err); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		var errno syscall.Errno
		if se, ok := c.err.(*net.OpError); ok {
			if sc, ok := se.Err.(*os.SyscallError); ok {
				errno, _ = sc.Err.(syscall.Errno)
			}
		}
		covered[errno] = true
	}
	for errno := range table {
		if !covered[errno] {
			t.Errorf("table row %d has no case", errno)
		}
	}
}
