//go:build !windows && !darwin

package netx

import "syscall"

// osErrnos: Linux (and the other Unixes Go supports) by the syscall package's
// own constants.
var osErrnos = errnoTable{
	syscall.ECONNREFUSED:  FailureConnectionRefused,
	syscall.ECONNRESET:    FailureConnectionReset,
	syscall.ECONNABORTED:  FailureConnectionAborted,
	syscall.EHOSTUNREACH:  FailureHostUnreachable,
	syscall.ENETUNREACH:   FailureNetworkUnreachable,
	syscall.ENETDOWN:      FailureNetworkDown,
	syscall.ETIMEDOUT:     FailureGenericTimeout,
	syscall.EADDRNOTAVAIL: FailureAddressNotAvailable,
	syscall.EACCES:        FailurePermissionDenied,
	syscall.EPERM:         FailurePermissionDenied,
	syscall.EPIPE:         FailureConnectionReset,
}
