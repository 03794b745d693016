package hostile

import (
	"io"
	"net"
	"testing"
)

// NewTLSStall returns the address of a TCP server that reads the ClientHello, sends
// the start of a handshake record (a record header announcing 4000 bytes of
// ServerHello and its first four bytes) and then sends nothing more, holding the
// connection open: the client's handshake is stuck halfway and only its own timeout
// can end it.
func NewTLSStall(t testing.TB) string {
	t.Helper()
	ln := listenTCP(t)
	acceptLoop(t, ln, func(c net.Conn, done <-chan struct{}) {
		if !readTLSRecord(c) {
			return
		}
		// Record header (RFC 8446 section 5.1): handshake (22), legacy version 3.3,
		// length 4000; then the handshake header: ServerHello (2), length 3996.
		partial := []byte{22, 3, 3, 0x0f, 0xa0, 2, 0, 0x0f, 0x9c}
		if _, err := c.Write(partial); err != nil {
			return
		}
		<-done
	})
	return ln.Addr().String()
}

// readTLSRecord reads one whole TLS record (the ClientHello) and reports whether it
// got one.
func readTLSRecord(c net.Conn) bool {
	var header [5]byte
	if _, err := io.ReadFull(c, header[:]); err != nil {
		return false
	}
	n := int(header[3])<<8 | int(header[4])
	_, err := io.CopyN(io.Discard, c, int64(n))
	return err == nil
}
