package webconnectivity

import (
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
)

// testKeys assembles the test keys from the trace, the observations and the decision.
func (m *Measurer) testKeys(trace *netx.Trace, o *Observations, d Decision, step time.Duration) *TestKeys {
	tk := newTestKeys()
	tk.Events = trace.Events()
	tk.Retries = m.cfg.Retries
	tk.XStepTimeout = step.Seconds()
	tk.Control = o.Control
	tk.XControlHelper = o.ControlHelper
	if o.Control == nil {
		f := o.ControlErr
		tk.ControlFailure = &f
	} else if o.Control.XClientIP != "" {
		tk.scrub = []string{o.Control.XClientIP}
	}
	if o.DNS.Attempts.AllFailed() {
		f := o.DNS.Attempts.Failure()
		tk.DNSExperimentFailure = &f
	}
	if o.HTTP != nil && o.HTTP.Attempts.AllFailed() {
		f := o.HTTP.Attempts.Failure()
		tk.HTTPExperimentFailure = &f
	}
	if s := o.SecondDNS; s != nil {
		r := &SecondDNSResult{Resolver: s.Resolver, Addrs: s.Addrs, Injected: s.Injected}
		if s.Attempts.AllFailed() {
			f := s.Attempts.Failure()
			r.Failure = &f
		}
		tk.XSecondDNS = r
	}
	tk.XQUICAttempted = len(o.QUIC) > 0
	tk.XCanaryLoss = o.CanaryLoss
	tk.XObservations = summarize(o)
	tk.applyDecision(d)
	if tk.Verdict == nettests.VerdictInconclusive && tk.Reason == nil {
		r := nettests.ReasonNetworkUnknown
		tk.Reason = &r
	}
	return tk
}

func summarize(o *Observations) *ObservationsSummary {
	s := &ObservationsSummary{DNS: o.DNS.Attempts, Endpoints: []EndpointSummary{}}
	for _, ep := range o.Endpoints {
		es := EndpointSummary{Address: ep.Address, TCP: ep.TCP, OtherConnects: ep.OtherConnects}
		if ep.TLS != nil {
			es.TLS, es.BenignSNI, es.Benign = ep.TLS.Attempts, ep.TLS.BenignSNI, ep.TLS.Benign
			es.OtherTLS = ep.TLS.OtherHandshakes
		}
		s.Endpoints = append(s.Endpoints, es)
	}
	if o.HTTP != nil {
		s.HTTP = o.HTTP.Attempts
	}
	if len(o.QUIC) > 0 {
		s.QUIC = map[string]Attempts{}
		for _, q := range o.QUIC {
			s.QUIC[q.Address] = q.Attempts
		}
	}
	return s
}
