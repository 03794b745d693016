package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/registry"
	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
)

// TestTargetsServedAndRefreshed: the collector serves each service nettest's
// embedded list, or the operator's file; the probe builds the nettest on what it
// fetched, and a fetched list that does not parse is an error (the runner then
// keeps the embedded list, TestExtrasRefreshedWhenOnline), never the defaults
// in disguise.
func TestTargetsServedAndRefreshed(t *testing.T) {
	dir := t.TempDir()
	own := `{"targets":[{"id":"operator","role":"or_port_dirauth","host":"relay.example","port":443,"source":"test"}]}`
	os.WriteFile(filepath.Join(dir, "tor.json"), []byte(own), 0o600)
	os.WriteFile(filepath.Join(dir, "signal.json"), []byte(`{"targets":[]}`), 0o600)
	c := collectortest.NewWithConfig(t, collectortest.SQLite, collector.Config{
		Targets: collector.DirTargets(dir, collectorTargets),
	})
	ctx := context.Background()
	for _, name := range []string{"whatsapp", "telegram", "facebook_messenger", "dnscheck"} {
		got, err := fetchTargets(ctx, c.URL, name)
		want, _ := registry.EmbeddedTargets(name)
		if err != nil || len(want) == 0 || !bytes.Equal(got, want) {
			t.Errorf("%s: fetched %d bytes (%v), embedded %d", name, len(got), err, len(want))
		}
	}
	if got, err := fetchTargets(ctx, c.URL, "tor"); err != nil || string(got) != own {
		t.Errorf("tor from the directory: %q %v", got, err)
	}
	for path, want := range map[string]int{"web_connectivity": 404, "nosuch": 404, "..%2Fetc": 400, "Tor": 400} {
		resp, err := http.Get(c.URL + "/api/v1/targets/" + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d", path, resp.StatusCode, want)
		}
	}

	cfg := &config.Config{}
	env := &nettests.Env{}
	tor, _ := registry.Lookup("tor")
	m, err := targetsRefresh(tor, cfg, env, c.URL)(ctx)
	if err != nil || m.Name() != "tor" {
		t.Fatalf("tor refresh: %v %v", m, err)
	}
	signal, _ := registry.Lookup("signal")
	if _, err := targetsRefresh(signal, cfg, env, c.URL)(ctx); err == nil || !strings.Contains(err.Error(), "fetched targets") {
		t.Errorf("signal's empty fetched list: %v, want an error naming the fetched list", err)
	}
	// The volunteer's [targets] file wins: no refresh at all; nor for a nettest
	// without a target list.
	cfg.Targets.Tor = filepath.Join(dir, "tor.json")
	if targetsRefresh(tor, cfg, env, c.URL) != nil {
		t.Error("tor refreshed despite [targets] tor")
	}
	wc, _ := registry.Lookup("web_connectivity")
	if targetsRefresh(wc, cfg, env, c.URL) != nil {
		t.Error("web_connectivity has no target list to refresh")
	}
}

// BenchmarkRefreshTargets: fetch and parse the six service lists from a local
// collector serving the embedded ones (docs/benchmarks.md).
func BenchmarkRefreshTargets(b *testing.B) {
	c := collectortest.NewWithConfig(b, collectortest.SQLite, collector.Config{Targets: collectorTargets})
	cfg, env := &config.Config{}, &nettests.Env{}
	var descs []registry.Descriptor
	for _, d := range registry.All() {
		if d.WithTargets != nil {
			descs = append(descs, d)
		}
	}
	for b.Loop() {
		for _, d := range descs {
			if _, err := targetsRefresh(d, cfg, env, c.URL)(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
}
