package dnstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// DefaultStartTimeout bounds how long Serve waits for its servers to accept
// queries: starting is immediate on a free socket, so a long wait means a bug.
const DefaultStartTimeout = 5 * time.Second

// Serving is a dns.Handler served over a packet conn, a listener, or both.
type Serving struct {
	servers []*dns.Server
	pc      net.PacketConn
	wg      sync.WaitGroup
}

// Serve serves h over pc (UDP) and ln (TCP, or TLS for DoT); either may be nil. It
// returns once every server accepts queries. It is the one serving loop of the
// project's DNS servers: this package's Server, hostile's DNSServer and the lab's
// resolvers. Handlers write whole messages (WriteMsg) or raw packets (Write: one
// datagram, or one length-prefixed frame over a stream).
func Serve(h dns.Handler, pc net.PacketConn, ln net.Listener) (*Serving, error) {
	s := &Serving{pc: pc}
	if pc != nil {
		s.servers = append(s.servers, &dns.Server{PacketConn: pc, Net: "udp", Handler: h})
	}
	if ln != nil {
		s.servers = append(s.servers, &dns.Server{Listener: ln, Net: "tcp", Handler: h})
	}
	started := make(chan struct{}, len(s.servers))
	errc := make(chan error, len(s.servers))
	for _, srv := range s.servers {
		srv.NotifyStartedFunc = func() { started <- struct{}{} }
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			errc <- srv.ActivateAndServe()
		}()
	}
	timeout := time.NewTimer(DefaultStartTimeout)
	defer timeout.Stop()
	for range s.servers {
		select {
		case <-started:
		case err := <-errc:
			s.closeSockets(ln)
			s.wg.Wait()
			return nil, fmt.Errorf("dnstest: serve: %w", err)
		case <-timeout.C:
			s.closeSockets(ln)
			s.wg.Wait()
			return nil, errors.New("dnstest: serve: the servers did not start")
		}
	}
	return s, nil
}

func (s *Serving) closeSockets(ln net.Listener) {
	if s.pc != nil {
		s.pc.Close()
	}
	if ln != nil {
		ln.Close()
	}
}

// Stop shuts the servers down and waits for their loops, within ctx.
func (s *Serving) Stop(ctx context.Context) {
	for _, srv := range s.servers {
		_ = srv.ShutdownContext(ctx)
	}
	if s.pc != nil {
		s.pc.Close() // a packet conn handed in stays open after Shutdown otherwise
	}
	s.wg.Wait()
}
