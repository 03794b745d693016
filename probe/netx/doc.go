// Package netx holds the measured network primitives every nettest uses: DNS (system,
// UDP, TCP, DoT, DoH), TCP connect, TLS (utls Chrome ClientHello or crypto/tls), QUIC,
// and HTTP(S)/HTTP3 fetches. Each primitive records an OONI-shaped event on a Trace
// and returns errors classified once, here, into the failure vocabulary of failure.go.
package netx
