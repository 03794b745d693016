package webconnectivity

import (
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/config"
)

// TestNewFillsDefaults: a zero Config gets every default; the file's mapping into
// Config is tested in nettests/registry.
func TestNewFillsDefaults(t *testing.T) {
	d, err := NewWithConfig(&nettests.Env{}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if d.cfg.Retries != DefaultRetries || d.cfg.BenignSNI != DefaultBenignSNI || d.cfg.Timeouts.Initial != defaultInitialTimeout || len(d.cfg.Helpers) != 0 {
		t.Errorf("defaults %+v", d.cfg)
	}
	if got := FixedTimeouts(3500 * time.Millisecond); got != (TimeoutPolicy{Initial: 3500 * time.Millisecond, Floor: timeoutFloor, Ceiling: 3500 * time.Millisecond}) {
		t.Errorf("FixedTimeouts = %+v", got)
	}
	if _, err := config.Parse([]byte("[control]\nbenign_sni = \"1.2.3.4\"\n"), "bad.toml"); err == nil {
		t.Error("an IP literal was accepted as benign_sni")
	}
}
