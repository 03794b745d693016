package service

import (
	"os"
	"path/filepath"
	"testing"
)

// TestEmbeddedListsNameTheirSources: every embedded target list parses and every
// entry says where it comes from.
func TestEmbeddedListsNameTheirSources(t *testing.T) {
	files, err := filepath.Glob("../../*/data/targets.json")
	if err != nil || len(files) != 6 {
		t.Fatalf("embedded lists %v (%v), want the six service nettests'", files, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		l, err := Parse(raw)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, tg := range l.Targets {
			if tg.Source == "" {
				t.Errorf("%s: %s has no source", f, tg.ID)
			}
		}
	}
}
