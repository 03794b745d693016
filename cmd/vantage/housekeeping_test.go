package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/probe/store"
)

func TestRotateLog(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, batchLogName)
	os.WriteFile(log+".1", []byte("oldest"), 0o600)
	os.WriteFile(log, []byte(strings.Repeat("x", 100)), 0o600)
	if err := rotateLog(log, 100); err != nil { // at the bound: kept
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(log + ".1"); string(b) != "oldest" {
		t.Fatalf("a log of exactly the bound rotated")
	}
	os.WriteFile(log, []byte(strings.Repeat("x", 101)), 0o600)
	if err := rotateLog(log, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(log); !os.IsNotExist(err) {
		t.Errorf("batch.log still there after rotation: %v", err)
	}
	if b, _ := os.ReadFile(log + ".1"); len(b) != 101 {
		t.Errorf("batch.log.1 holds %d bytes, want the rotated 101", len(b))
	}
	if err := rotateLog(filepath.Join(dir, "absent.log"), 100); err != nil {
		t.Errorf("absent log: %v", err)
	}
}

func TestKeepUploaded(t *testing.T) {
	for days, want := range map[int]time.Duration{0: store.DefaultKeepUploaded, -1: 0, 7: 7 * 24 * time.Hour} {
		if got := keepUploaded(days); got != want {
			t.Errorf("keepUploaded(%d) = %v, want %v", days, got, want)
		}
	}
}
