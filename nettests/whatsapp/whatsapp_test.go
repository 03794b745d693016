package whatsapp_test

import (
	"context"
	"flag"
	"net/http"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests/internal/service"
	"github.com/vantage-probe/vantage/nettests/internal/service/servicetest"
	"github.com/vantage-probe/vantage/nettests/whatsapp"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
	"github.com/vantage-probe/vantage/probe/runner"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// world is three chat endpoints, the registration server and the web client on
// loopback; registration can be swapped for a resetter.
func world(t *testing.T, resetRegistration bool) (*servicetest.Net, *netxtest.CA, []service.Target) {
	ca := netxtest.MustCA(t, "Test Root")
	n := servicetest.NewNet()
	chat := func() string { return netxtest.NewHTTPServer(t, http.NotFoundHandler()).Addr }
	reg := netxtest.NewHTTPSServer(t, netxtest.MustIssue(t, ca, "v.whatsapp.net"), http.NotFoundHandler()).Addr
	if resetRegistration {
		reg = netxtest.NewResetter(t)
	}
	web := netxtest.NewHTTPSServer(t, netxtest.MustIssue(t, ca, "web.whatsapp.com"), http.NotFoundHandler()).Addr
	return n, ca, []service.Target{
		n.Target("e1.whatsapp.net:5222", "chat", "e1.whatsapp.net", 5222, chat(), ""),
		n.Target("e2.whatsapp.net:5222", "chat", "e2.whatsapp.net", 5222, chat(), ""),
		n.Target("e3.whatsapp.net:443", "chat", "e3.whatsapp.net", 443, chat(), ""),
		n.Target("v.whatsapp.net", "registration", "v.whatsapp.net", 443, reg, "/v2/register"),
		n.Target("web.whatsapp.com", "web", "web.whatsapp.com", 443, web, "/"),
	}
}

func measurer(t *testing.T, n *servicetest.Net, ca *netxtest.CA, targets []service.Target) *whatsapp.Measurer {
	path := servicetest.WriteTargets(t, service.List{Targets: targets})
	m, err := whatsapp.New(n.Env(ca), whatsapp.Config{Targets: path, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestScenarios(t *testing.T) {
	cases := []struct {
		name               string
		failChat           []int
		resetRegistration  bool
		verdict, blocked   string
		endpointsStatus    string
		endpointsBlocked   int
		registrationStatus string
	}{
		{"no censorship", nil, false, "ok", "", "ok", 0, "ok"},
		// The trap: one endpoint down for everyone is not WhatsApp blocked.
		{"one chat endpoint down", []int{1}, false, "ok", "", "ok", 1, "ok"},
		{"chat endpoints reset, web works", []int{0, 1, 2}, false, "blocked", "chat endpoints: tcp.reset", "blocked", 3, "ok"},
		{"registration reset by SNI", nil, true, "degraded", "registration server: tls.reset", "ok", 0, "blocked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, ca, targets := world(t, c.resetRegistration)
			for _, i := range c.failChat {
				n.Fail[servicetest.Addr(targets[i])] = servicetest.ErrRefused
			}
			keys, err := measurer(t, n, ca, targets).Run(context.Background(), "", netx.NewTrace(time.Now(), nil))
			if err != nil {
				t.Fatal(err)
			}
			tk := keys.(*whatsapp.TestKeys)
			if v, b := tk.ServiceVerdict(); v != c.verdict || b != c.blocked {
				t.Errorf("verdict %q %q, want %q %q; endpoints %+v", v, b, c.verdict, c.blocked, tk.Endpoints)
			}
			if tk.WhatsappEndpointsStatus != c.endpointsStatus || len(tk.WhatsappEndpointsBlocked) != c.endpointsBlocked ||
				tk.RegistrationServerStatus != c.registrationStatus || tk.WhatsappWebStatus != "ok" {
				t.Errorf("OONI keys: endpoints %q %v, registration %q, web %q", tk.WhatsappEndpointsStatus, tk.WhatsappEndpointsBlocked,
					tk.RegistrationServerStatus, tk.WhatsappWebStatus)
			}
			if (c.registrationStatus == "blocked") != (tk.RegistrationServerFailure != nil) {
				t.Errorf("registration_server_failure %v", tk.RegistrationServerFailure)
			}
		})
	}
}

func TestEmbeddedTargets(t *testing.T) {
	m, err := whatsapp.New(nil, whatsapp.Config{})
	if err != nil {
		t.Fatalf("embedded targets: %v", err)
	}
	if _, err := m.Run(context.Background(), "x", netx.NewTrace(time.Now(), nil)); err == nil {
		t.Error("accepted an input")
	}
}

func TestGoldenMeasurement(t *testing.T) {
	n, ca, targets := world(t, false)
	n.Fail[servicetest.Addr(targets[1])] = servicetest.ErrRefused
	clock := time.Date(2022, 1, 4, 12, 0, 0, 0, time.UTC)
	id := runner.Origin{ProbeCC: "KZ", ProbeASN: "AS9198", ProbeNetworkName: "JSC Kazakhtelecom"}
	_, b, err := runner.Measure(context.Background(), measurer(t, n, ca, targets), "", id, "report-id", func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	netxtest.CompareGolden(t, "measurement.golden.json", netxtest.NormaliseMeasurement(t, b), *update)
}
