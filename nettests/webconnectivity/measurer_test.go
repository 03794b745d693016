package webconnectivity

import (
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/config"
)

func TestConfigFromEnv(t *testing.T) {
	c, err := config.Parse([]byte(`
[network]
second_resolver = "udp://127.0.0.1:5353"
[control]
helpers = ["https://h1.example/", "https://h2.example/"]
benign_sni = "benign.example"
[run]
timeout = 3.5
retries = 5
`), "test.toml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(&nettests.Env{Config: c})
	if err != nil {
		t.Fatal(err)
	}
	got := m.cfg
	if len(got.Helpers) != 2 || got.Helpers[1] != "https://h2.example/" || got.SecondResolver != "udp://127.0.0.1:5353" ||
		got.BenignSNI != "benign.example" || got.Retries != 5 {
		t.Errorf("config %+v", got)
	}
	want := TimeoutPolicy{Initial: 3500 * time.Millisecond, Floor: timeoutFloor, Ceiling: 3500 * time.Millisecond}
	if got.Timeouts != want {
		t.Errorf("timeouts %+v, want %+v", got.Timeouts, want)
	}
	d, err := New(&nettests.Env{Config: config.Defaults()})
	if err != nil {
		t.Fatal(err)
	}
	if d.cfg.Retries != DefaultRetries || d.cfg.BenignSNI != DefaultBenignSNI || d.cfg.Timeouts.Initial != defaultInitialTimeout || len(d.cfg.Helpers) != 0 {
		t.Errorf("defaults %+v", d.cfg)
	}
	if _, err := config.Parse([]byte("[control]\nbenign_sni = \"1.2.3.4\"\n"), "bad.toml"); err == nil {
		t.Error("an IP literal was accepted as benign_sni")
	}
}
