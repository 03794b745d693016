//go:build linux

package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/vantage-probe/vantage/probe/netx/dnstest"
)

// dnsTTL is short, so that a probe re-resolving during a flip sees fresh rules.
const dnsTTL = 30

// serverStopTimeout bounds how long a DNS server may take to stop.
const serverStopTimeout = 5 * time.Second

// dnsAction is what a resolver does for one name.
type dnsAction struct {
	rcode int        // dns.RcodeSuccess unless lying with an error
	addr  netip.Addr // answer with this address instead of the truth (valid if set)
	drop  bool       // do not answer at all
}

// resolver answers A queries for the world's names: the truth, except where the
// censor's overrides say otherwise. Both the honest foreign resolver and the ISP's
// resolver are resolvers; only the ISP's has overrides.
type resolver struct {
	world *World

	mu        sync.RWMutex
	overrides map[string]dnsAction
	fallback  *dnsAction // applied to every name when set (upstream dead)
}

func newResolver(w *World) *resolver {
	return &resolver{world: w, overrides: map[string]dnsAction{}}
}

func (r *resolver) override(name string, a dnsAction) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.overrides[canonicalName(name)] = a
}

func (r *resolver) overrideAll(a dnsAction) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fallback = &a
}

// ServeDNS implements dns.Handler.
func (r *resolver) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	m, ok := r.answer(req)
	if !ok {
		return // the censor swallows the query
	}
	w.WriteMsg(m)
}

// answer builds the reply; ok=false means no reply at all.
func (r *resolver) answer(req *dns.Msg) (*dns.Msg, bool) {
	q := req.Question[0]
	name := canonicalName(q.Name)
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	r.mu.RLock()
	act, overridden := r.overrides[name]
	if r.fallback != nil {
		act, overridden = *r.fallback, true
	}
	r.mu.RUnlock()
	switch {
	case overridden && act.drop:
		return nil, false
	case overridden && act.rcode != dns.RcodeSuccess:
		m.Rcode = act.rcode
		return m, true
	case overridden && act.addr.IsValid():
		if q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, aRecord(q.Name, act.addr))
		}
		return m, true
	}
	site, known := r.world.Lookup(name)
	if !known || site.Down == "nxdomain" {
		m.Rcode = dns.RcodeNameError
		return m, true
	}
	if q.Qtype == dns.TypeA {
		m.Answer = append(m.Answer, aRecord(q.Name, site.Addr))
	}
	return m, true // AAAA and others: NOERROR with no data (the lab is IPv4 only)
}

func aRecord(qname string, a netip.Addr) dns.RR {
	return &dns.A{
		Hdr: dns.RR_Header{Name: dns.Fqdn(qname), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: dnsTTL},
		A:   net.IP(a.AsSlice()),
	}
}

// dnsServers are the UDP and TCP servers of one resolver address.
type dnsServers struct{ serving *dnstest.Serving }

// startDNS serves h on UDP and TCP port 53 of ip inside ns, through dnstest's
// serving loop (the one of every DNS server of the project), and returns once both
// servers are serving.
func startDNS(ns *Namespace, ip string, h dns.Handler) (*dnsServers, error) {
	addr := net.JoinHostPort(ip, "53")
	pc, err := ns.ListenUDP(addr)
	if err != nil {
		return nil, err
	}
	l, err := ns.Listen("tcp4", addr)
	if err != nil {
		pc.Close()
		return nil, err
	}
	srv, err := dnstest.Serve(h, pc, l)
	if err != nil {
		return nil, fmt.Errorf("lab: dns server %s: %w", addr, err)
	}
	return &dnsServers{serving: srv}, nil
}

// Close stops both servers and waits for them.
func (ds *dnsServers) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), serverStopTimeout)
	defer cancel()
	ds.serving.Stop(ctx)
	return nil
}
