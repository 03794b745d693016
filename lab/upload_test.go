//go:build linux

package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/probe/identity"
	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/collector"
	collectorfake "github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/collector/storage"
	"github.com/vantage-probe/vantage/report/upload/uploadtest"
)

// The upload scenarios' sites: the collector under two names (a primary and a
// second host), a CDN edge that fronts for it, and a SOCKS5 proxy's address.
var (
	collectorSite  = Site{Name: "collector.world.vlab", Addr: netip.MustParseAddr("45.60.7.10")}
	collector2Site = Site{Name: "collector2.world.vlab", Addr: netip.MustParseAddr("45.60.7.20")}
	frontSite      = Site{Name: "edge.cdn.vlab", Addr: netip.MustParseAddr("45.60.7.30"), Front: true}
	socksAddr      = netip.MustParseAddrPort("45.60.7.40:1080")
	uploadSites    = []Site{collectorSite, collector2Site, frontSite}
)

const seededMeasurements = 20

// uploadLab is a lab with the real collector (report/collector on a fresh
// sqlite store) mounted on both collector names and a probe store holding
// seededMeasurements queued measurements.
type uploadLab struct {
	*Lab
	db   *storage.DB
	sent map[string][]byte // the seeded lines by uid
}

func newUploadLab(t *testing.T, blocks ...Block) *uploadLab {
	t.Helper()
	l := newTestLab(t, uploadSites, blocks...)
	db := collectorfake.OpenDB(t, collectorfake.SQLite)
	h := collector.NewServer(collector.Config{Store: db, TestLists: collector.EmbeddedTestLists}).Handler()
	for _, s := range []Site{collectorSite, collector2Site} {
		if err := l.Mount(s.Name, h); err != nil {
			t.Fatal(err)
		}
	}
	ul := &uploadLab{Lab: l, db: db, sent: map[string][]byte{}}
	ul.seed(t, seededMeasurements)
	return ul
}

// seed queues n signed measurements in the probe's store, as a run would.
func (ul *uploadLab) seed(t *testing.T, n int) {
	t.Helper()
	id, err := identity.LoadOrCreate(ul.StoreDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ul.StoreDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	run, err := st.BeginRun(ctx, store.RunInfo{TestName: "web_connectivity", StartTime: start, ProbeCC: "KZ", ProbeASN: "AS9198"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		uid := report.NewMeasurementUID(start, "KZ", "web_connectivity")
		line := uploadtest.Sign(t, id.Private, uploadtest.Measurement(uid, fmt.Sprintf("https://site%d.world.vlab/", i), start, map[string]any{"i": i}))
		if err := st.SaveMeasurement(ctx, run, line, store.MeasurementMeta{UID: uid, TestName: "web_connectivity", StartTime: start}, true); err != nil {
			t.Fatal(err)
		}
		ul.sent[uid] = line
	}
}

// upload runs `vantage upload` in the probe namespace with these routes.
func (ul *uploadLab) upload(t *testing.T, routes ...RouteEntry) *CommandResult {
	t.Helper()
	cfg := ul.BaseProbeConfig()
	cfg.Upload.Enabled = true
	cfg.Upload.Collectors = routes
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := vantageBinary(t)
	start := time.Now()
	res, err := ul.RunCommand(ctx, bin, cfg, "upload")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("vantage upload: exit %d after %v\n%s%s", res.ExitCode, time.Since(start).Round(time.Millisecond), res.Stdout, res.Stderr)
	return res
}

// stored is what the probe's store holds: every line by uid, the uids still
// queued, and the collector_reachability measurements' test keys.
type probeStore struct {
	lines   map[string][]byte
	pending int
	reach   []reachKeys
}

type reachKeys struct {
	Collector       string  `json:"collector"`
	Front           *string `json:"front"`
	Proxy           *string `json:"proxy"`
	Failure         *string `json:"failure"`
	FailedOperation *string `json:"failed_operation"`
	Method          *string `json:"method"`
}

func (ul *uploadLab) probeStore(t *testing.T) probeStore {
	t.Helper()
	st, err := store.Open(ul.StoreDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ps := probeStore{lines: map[string][]byte{}}
	err = st.MeasurementsSince(context.Background(), time.Time{}, func(m store.StoredMeasurement) error {
		ps.lines[m.UID] = m.Line
		if m.TestName != "collector_reachability" {
			return nil
		}
		var env struct {
			Measurement struct {
				TestKeys reachKeys `json:"test_keys"`
			} `json:"measurement"`
		}
		if err := json.Unmarshal(m.Line, &env); err != nil {
			return err
		}
		ps.reach = append(ps.reach, env.Measurement.TestKeys)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	qs, err := st.QueueStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ps.pending = qs.Pending
	return ps
}

// atCollector is what the collector holds, by uid; a uid held twice fails t.
func (ul *uploadLab) atCollector(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := ul.db.Export(context.Background(), storage.Filter{}, func(line []byte) error {
		line = bytes.TrimSuffix(line, []byte("\n"))
		s, err := report.ParseSigned(line)
		if err != nil {
			return err
		}
		if _, dup := out[s.MeasurementUID]; dup {
			t.Errorf("the collector holds %s twice", s.MeasurementUID)
		}
		out[s.MeasurementUID] = bytes.Clone(line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// assertAllArrived checks that the collector holds exactly what the store holds,
// byte for byte, and that nothing waits.
func (ul *uploadLab) assertAllArrived(t *testing.T, ps probeStore) {
	t.Helper()
	got := ul.atCollector(t)
	if len(got) != len(ps.lines) || ps.pending != 0 {
		t.Errorf("collector holds %d, the store %d (%d still queued)", len(got), len(ps.lines), ps.pending)
	}
	for uid, line := range ps.lines {
		if !bytes.Equal(got[uid], line) {
			t.Errorf("%s: the collector's copy is missing or differs", uid)
		}
	}
	for uid := range ul.sent {
		if _, ok := ps.lines[uid]; !ok {
			t.Errorf("seeded %s is gone from the store", uid)
		}
	}
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// TestUploadScenarios runs the real binary's upload through censored paths to
// the real collector.
func TestUploadScenarios(t *testing.T) {
	vantageBinary(t) // built once, before the labs run side by side
	for name, fn := range map[string]func(*testing.T){
		"primary-blackholed": testUploadPrimaryBlackholed,
		"socks5-only":        testUploadSOCKS5Only,
		"fronted":            testUploadFronted,
		"every-route-dead":   testUploadEveryRouteDead,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each lab has its own namespaces; they mostly wait on timeouts
			fn(t)
		})
	}
}

// The primary collector is black-holed (SYNs dropped); the second name works.
// Everything arrives once; the blocked route is recorded as tcp.timeout; the
// next upload starts with the route that worked.
func testUploadPrimaryBlackholed(t *testing.T) {
	ul := newUploadLab(t, Block{Kind: "ip.drop", Targets: []string{collectorSite.Name}})
	primary, second := "https://"+collectorSite.Name, "https://"+collector2Site.Name
	res := ul.upload(t, RouteEntry{URL: primary}, RouteEntry{URL: second})
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, fmt.Sprintf("uploaded %d, already at the collector 0", seededMeasurements+1)) {
		t.Fatalf("exit %d: want every measurement (and the blocked route's record) uploaded", res.ExitCode)
	}
	if !strings.Contains(res.Stdout, "route "+primary+": failed 1 times, last: connect:") || !strings.Contains(res.Stdout, "route "+second+": worked") {
		t.Errorf("the output does not say which route failed and how, and which worked")
	}
	ps := ul.probeStore(t)
	ul.assertAllArrived(t, ps)
	if len(ps.reach) != 1 || ps.reach[0].Collector != primary || str(ps.reach[0].Method) != "tcp.timeout" ||
		str(ps.reach[0].FailedOperation) != "connect" || str(ps.reach[0].Failure) != "generic_timeout_error" {
		t.Errorf("collector_reachability records %+v, want one tcp.timeout of the primary", ps.reach)
	}
	// The next run goes straight to the route that worked.
	ul.seed(t, 3)
	res = ul.upload(t, RouteEntry{URL: primary}, RouteEntry{URL: second})
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "route "+primary+": not needed") {
		t.Errorf("second upload: exit %d; the remembered route must be tried first", res.ExitCode)
	}
	ul.assertAllArrived(t, ul.probeStore(t))
}

// The collector's name is poisoned and its address black-holed: only a SOCKS5
// proxy abroad reaches it, and the name goes to the proxy unresolved.
func testUploadSOCKS5Only(t *testing.T) {
	ul := newUploadLab(t, Block{Kind: "dns.nxdomain", Targets: []string{collectorSite.Name}},
		Block{Kind: "ip.drop", Targets: []string{collectorSite.Name}})
	px, err := ul.StartSOCKS5(socksAddr)
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + collectorSite.Name
	res := ul.upload(t, RouteEntry{URL: url}, RouteEntry{URL: url, Proxy: "socks5h://" + socksAddr.String()})
	if res.ExitCode != 0 {
		t.Fatalf("exit %d", res.ExitCode)
	}
	ps := ul.probeStore(t)
	ul.assertAllArrived(t, ps)
	if got := px.Targets(); len(got) == 0 || got[0] != collectorSite.Name+":443" {
		t.Errorf("the proxy was asked for %v, want the collector's name unresolved", got)
	}
	if len(ps.reach) != 1 || str(ps.reach[0].Method) != "dns.nxdomain" || str(ps.reach[0].FailedOperation) != "resolve" {
		t.Errorf("collector_reachability records %+v, want the direct route's dns.nxdomain", ps.reach)
	}
}

// DPI resets connections whose ClientHello names the collector; a CDN edge
// fronts for it under its own name. The data arrives and the blocked route is
// recorded as tls.reset.
func testUploadFronted(t *testing.T) {
	ul := newUploadLab(t, Block{Kind: "sni.reset", Targets: []string{collectorSite.Name}})
	url := "https://" + collectorSite.Name
	res := ul.upload(t, RouteEntry{URL: url}, RouteEntry{URL: url, Front: frontSite.Name})
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "route "+url+" front "+frontSite.Name+": worked") {
		t.Fatalf("exit %d: the fronted route must carry the upload", res.ExitCode)
	}
	ps := ul.probeStore(t)
	ul.assertAllArrived(t, ps)
	if len(ps.reach) != 1 || ps.reach[0].Front != nil || str(ps.reach[0].Method) != "tls.reset" ||
		str(ps.reach[0].FailedOperation) != "tls_handshake" || str(ps.reach[0].Failure) != "connection_reset" {
		t.Errorf("collector_reachability records %+v, want the direct route's tls.reset", ps.reach)
	}
}

// Every route is refused: nothing is lost, everything waits, the exit status
// says so, and each route's failure is on record for the next upload.
func testUploadEveryRouteDead(t *testing.T) {
	ul := newUploadLab(t, Block{Kind: "tcp.reset", Targets: []string{collectorSite.Name, collector2Site.Name, frontSite.Name}})
	url := "https://" + collectorSite.Name
	res := ul.upload(t, RouteEntry{URL: url}, RouteEntry{URL: "https://" + collector2Site.Name}, RouteEntry{URL: url, Front: frontSite.Name})
	if res.ExitCode != 3 || !strings.Contains(res.Stdout, "uploaded 0, already at the collector 0, rejected 0, waiting") {
		t.Fatalf("exit %d, want 3 (measurements still waiting)", res.ExitCode)
	}
	ps := ul.probeStore(t)
	if got := ul.atCollector(t); len(got) != 0 {
		t.Errorf("the collector holds %d measurements through dead routes", len(got))
	}
	if ps.pending != len(ps.lines) || len(ps.lines) != seededMeasurements+3 {
		t.Errorf("store: %d lines, %d queued; want the %d seeded and 3 route records, all queued", len(ps.lines), ps.pending, seededMeasurements)
	}
	for _, r := range ps.reach {
		if str(r.Method) != "tcp.reset" {
			t.Errorf("route record %+v, want tcp.reset", r)
		}
	}
	if !strings.Contains(res.Stdout, fmt.Sprintf("waiting %d", len(ps.lines))) {
		t.Errorf("the output does not count every waiting measurement")
	}
}
