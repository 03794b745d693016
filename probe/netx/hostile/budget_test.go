package hostile_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/hostile"
)

// collectorLineBytes is the largest measurement line a collector accepts
// (report/collector.MaxLineBytes); a larger one is refused for good.
const collectorLineBytes = 16 << 20

// TestRecordedResponsesStayWithinTheBudget: ten redirects, each with 200 KiB of
// headers and a 1 MiB body of '<', fetched three times on one trace (a measurement's
// retries). Each response alone is within the caps; together they would make a
// measurement of about 200 MiB of JSON. The trace keeps at most
// netx.MaxRecordedResponseBytes of bodies and header lines, the first body whole,
// and the events encode well under what a collector accepts.
func TestRecordedResponsesStayWithinTheBudget(t *testing.T) {
	const hops = 10
	srv := hostile.NewBloatedRedirects(t, hops)
	var c netx.Client
	trace := newTrace()
	for range 3 {
		res, err := c.Fetch(context.Background(), trace, srv.URL, patientOptions())
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		if len(res.Requests) != hops+1 || len(res.Body) != 1<<20 {
			t.Fatalf("%d round trips and a %d-byte final body, want %d and 1 MiB (the fetch result is not trimmed)", len(res.Requests), len(res.Body), hops+1)
		}
	}
	events := trace.Events()
	kept := 0
	for _, rt := range events.Requests {
		kept += len(rt.Response.Body)
		for _, h := range rt.Response.HeadersList {
			kept += 2 * (len(h[0]) + len(h[1])) // in headers_list and in headers
		}
		if rt.Response.XBodyLength != 1<<20 {
			t.Errorf("x_body_length %d, want the 1 MiB read", rt.Response.XBodyLength)
		}
	}
	if kept > netx.MaxRecordedResponseBytes {
		t.Errorf("%d response bytes kept, budget %d", kept, netx.MaxRecordedResponseBytes)
	}
	first := events.Requests[len(events.Requests)-1] // OONI's order: last first
	if len(first.Response.Body) != 1<<20 || first.Response.BodyIsTruncated {
		t.Errorf("first response body %d bytes, truncated %v: want it whole", len(first.Response.Body), first.Response.BodyIsTruncated)
	}
	if last := events.Requests[0]; !last.Response.BodyIsTruncated || len(last.Response.Body) != 0 {
		t.Errorf("last response body %d bytes, truncated %v: want it cut to nothing", len(last.Response.Body), last.Response.BodyIsTruncated)
	}
	b, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	// Six bytes per '<' in the worst case, the rest of a measurement (control,
	// certificates, DNS) must still fit in what the collector accepts.
	if limit := 6*netx.MaxRecordedResponseBytes + 256<<10; len(b) > limit || limit > collectorLineBytes*2/3 {
		t.Errorf("the events encode to %d KiB, want under %d KiB (two thirds of the collector's %d MiB)", len(b)>>10, limit>>10, collectorLineBytes>>20)
	}
	t.Logf("33 bloated responses: %d KiB kept, %d KiB of JSON", kept>>10, len(b)>>10)
}

// TestBudgetCutsBodiesAtCharacterBoundaries: a body cut by the budget stays valid
// UTF-8 (so it is still written as text, not base64), and headers that do not fit
// leave the map and the list alike.
func TestBudgetCutsBodiesAtCharacterBoundaries(t *testing.T) {
	trace := newTrace()
	body := strings.Repeat("é", netx.MaxRecordedResponseBytes) // two bytes each: twice the budget
	trace.AddRequest(netx.RequestEvent{Response: netx.HTTPResponse{
		Body:        netx.MaybeBinary(body),
		HeadersList: []netx.HTTPHeader{{"X-A", "a"}},
		Headers:     map[string]netx.MaybeBinary{"X-A": "a"},
	}})
	got := trace.Events().Requests[0].Response
	if !utf8.ValidString(string(got.Body)) || !got.BodyIsTruncated || len(got.Body) > netx.MaxRecordedResponseBytes || len(got.Body) < netx.MaxRecordedResponseBytes-1 {
		t.Errorf("body of %d bytes (valid UTF-8 %v, truncated %v)", len(got.Body), utf8.ValidString(string(got.Body)), got.BodyIsTruncated)
	}
	if len(got.HeadersList) != 0 || len(got.Headers) != 0 {
		t.Errorf("headers kept past the budget: %v %v", got.HeadersList, got.Headers)
	}
}

// TestCertificateBudget: forty handshakes each presenting a 250 KiB chain (the most
// a TLS stack accepts is 256 KiB) keep at most netx.MaxRecordedCertificateBytes of
// certificates; the first chains are whole, later ones left out whole (never cut),
// and every event keeps its leaf summary.
func TestCertificateBudget(t *testing.T) {
	trace := newTrace()
	chain := []netx.PeerCertificate{
		{Data: make([]byte, 200<<10), Format: "base64"},
		{Data: make([]byte, 50<<10), Format: "base64"},
	}
	for i := range 40 {
		trace.AddTLSHandshake(netx.TLSHandshakeEvent{TransactionID: int64(i), PeerCertificates: chain, XLeafIssuer: "CN=Big"})
	}
	kept := 0
	for i, ev := range trace.Events().TLSHandshakes {
		switch len(ev.PeerCertificates) {
		case 0:
		case len(chain):
			kept += 250 << 10
		default:
			t.Errorf("handshake %d: a cut chain of %d certificates", i, len(ev.PeerCertificates))
		}
		if ev.XLeafIssuer != "CN=Big" {
			t.Errorf("handshake %d lost its leaf summary", i)
		}
		if i == 0 && len(ev.PeerCertificates) != len(chain) {
			t.Error("the first chain was not kept")
		}
	}
	if kept > netx.MaxRecordedCertificateBytes || kept == 0 {
		t.Errorf("%d certificate bytes kept, budget %d", kept, netx.MaxRecordedCertificateBytes)
	}
	if len(chain[0].Data) != 200<<10 {
		t.Error("the caller's chain was modified")
	}
}
