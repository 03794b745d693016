package netx

import (
	"errors"
	"syscall"
)

// errnoTable maps the socket error numbers of one OS to the failure vocabulary.
// The numbers differ between OSes (ECONNRESET is 104 on Linux, 54 on macOS,
// WSAECONNRESET 10054 on Windows), so each OS has its own table, chosen at build
// time (failure_errno_*.go); the tables themselves build everywhere, so that each
// is tested on every OS with the errors that OS returns.
type errnoTable map[syscall.Errno]string

// classifyErrno finds the errno in err (usually inside *net.OpError and
// *os.SyscallError) and looks it up in this OS's table.
func classifyErrno(err error) string { return classifyErrnoWith(osErrnos, err) }

func classifyErrnoWith(table errnoTable, err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return ""
	}
	return table[errno]
}

// darwinErrnos: the numbers of macOS's <sys/errno.h> (the BSDs share them), as
// golang.org/x/sys/unix spells them in zerrors_darwin_*.go. The same rows as on
// Linux.
var darwinErrnos = errnoTable{
	61: FailureConnectionRefused,   // ECONNREFUSED
	54: FailureConnectionReset,     // ECONNRESET
	53: FailureConnectionAborted,   // ECONNABORTED
	65: FailureHostUnreachable,     // EHOSTUNREACH
	51: FailureNetworkUnreachable,  // ENETUNREACH
	50: FailureNetworkDown,         // ENETDOWN
	60: FailureGenericTimeout,      // ETIMEDOUT
	49: FailureAddressNotAvailable, // EADDRNOTAVAIL
	13: FailurePermissionDenied,    // EACCES
	1:  FailurePermissionDenied,    // EPERM
	32: FailureConnectionReset,     // EPIPE: writing to a connection the peer reset
}

// windowsErrnos: Winsock's WSAE* codes (winerror.h, as golang.org/x/sys/windows
// spells them), which Go's net package returns on Windows inside
// *os.SyscallError ("wsarecv", "wsasend", "connectex"), plus the few Win32 codes
// that overlapped socket I/O reports for the same events.
var windowsErrnos = errnoTable{
	10061: FailureConnectionRefused,   // WSAECONNREFUSED
	1225:  FailureConnectionRefused,   // ERROR_CONNECTION_REFUSED (ConnectEx)
	10054: FailureConnectionReset,     // WSAECONNRESET
	10052: FailureConnectionReset,     // WSAENETRESET: keep-alive failure on a live connection
	64:    FailureConnectionReset,     // ERROR_NETNAME_DELETED: overlapped read of a reset connection
	10053: FailureConnectionAborted,   // WSAECONNABORTED
	1236:  FailureConnectionAborted,   // ERROR_CONNECTION_ABORTED
	10065: FailureHostUnreachable,     // WSAEHOSTUNREACH
	1232:  FailureHostUnreachable,     // ERROR_HOST_UNREACHABLE
	10051: FailureNetworkUnreachable,  // WSAENETUNREACH
	1231:  FailureNetworkUnreachable,  // ERROR_NETWORK_UNREACHABLE
	10050: FailureNetworkDown,         // WSAENETDOWN
	10060: FailureGenericTimeout,      // WSAETIMEDOUT
	10049: FailureAddressNotAvailable, // WSAEADDRNOTAVAIL
	10013: FailurePermissionDenied,    // WSAEACCES (a firewall refusing the socket)
}
