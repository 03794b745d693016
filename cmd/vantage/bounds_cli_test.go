package main

// Inputs that used to be read whole, or accepted and then refused by the
// collector for good, against the real binary (in a loopback-only namespace). The
// peak memory of each run is the kernel's ru_maxrss of the process.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/limits"
)

// gnuTime measures a command's peak memory. The kernel's ru_maxrss of a child
// of the test process would include the test's own memory (Go starts children
// with vfork, so the child's first address space is the test's); GNU time forks a
// small process of its own first. .ci/deps installs it.
const gnuTime = "/usr/bin/time"

// runMeasured runs the binary like probeHome.run, under GNU time and bounded to a
// minute, and also returns its peak resident memory in bytes.
func (h *probeHome) runMeasured(t *testing.T, args ...string) (stderr string, code int, maxRSS int64) {
	t.Helper()
	if _, err := os.Stat(gnuTime); err != nil {
		t.Fatalf("%s is needed to measure peak memory (Debian package time; .ci/deps installs it): %v", gnuTime, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rssFile := filepath.Join(t.TempDir(), "maxrss")
	argv := append([]string{gnuTime, "-f", "%M", "-o", rssFile}, h.command(args...).Args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "HOME="+h.root, "XDG_CONFIG_HOME="+h.root, "XDG_DATA_HOME="+h.root, "NO_COLOR=")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("vantage %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("vantage %v did not end within a minute (killed); stderr: %.500s", args, errb.String())
	}
	out, err := os.ReadFile(rssFile)
	if err != nil {
		t.Fatalf("time: %v", err)
	}
	fields := strings.Fields(string(out)) // "Command exited with non-zero status N" first
	kib, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
	if err != nil {
		t.Fatalf("time wrote %q", out)
	}
	return errb.String(), code, kib << 10
}

func TestHugeInputsAreBounded(t *testing.T) {
	requireIsolation(t)
	bin := cliBinary(t)
	h := newProbeHome(t, bin, true)

	t.Run("/dev/zero as --input-file", func(t *testing.T) {
		errOut, code, rss := h.runMeasured(t, "run", "--batch", "--input-file", "/dev/zero")
		if code != exitUsage || !strings.Contains(errOut, "/dev/zero:1: a line is longer than 65536 bytes") {
			t.Fatalf("exit %d (want %d): %.500s", code, exitUsage, errOut)
		}
		if rss > 100<<20 {
			t.Errorf("peak RSS %d MB, want < 100 MB", rss>>20)
		}
		t.Logf("/dev/zero: exit %d, peak RSS %.1f MB", code, float64(rss)/(1<<20))
	})

	t.Run("a million-line list", func(t *testing.T) {
		// A million distinct URLs (41 MB), the last line bad so that the run ends
		// once the whole list is read, without measuring anything.
		var b bytes.Buffer
		for i := range 1_000_000 {
			fmt.Fprintf(&b, "https://site%d.example/some/path/to/a/page\n", i)
		}
		b.WriteString("not a url\n")
		list := filepath.Join(h.root, "million.txt")
		if err := os.WriteFile(list, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		size := b.Len()
		b = bytes.Buffer{}
		start := time.Now()
		errOut, code, rss := h.runMeasured(t, "run", "--batch", "--input-file", list)
		took := time.Since(start)
		if code != exitUsage || !strings.Contains(errOut, "million.txt:1000001") {
			t.Fatalf("exit %d (want %d): %.500s", code, exitUsage, errOut)
		}
		// It holds one string per URL (about 60 bytes each with the index), not the
		// file twice and a struct per line as before (over 1 GB for 50 MB).
		if rss > 300<<20 {
			t.Errorf("peak RSS %d MB for a %d MB list, want < 300 MB", rss>>20, size>>20)
		}
		t.Logf("1,000,000-line list (%.1f MB): read in %v, peak RSS %.1f MB", float64(size)/1e6, took.Round(time.Millisecond), float64(rss)/(1<<20))
	})

	t.Run("a bad line early in a million", func(t *testing.T) {
		var b bytes.Buffer
		b.WriteString("https://ok.example/\nexample.org/no-scheme\n")
		for i := range 1_000_000 {
			fmt.Fprintf(&b, "https://site%d.example/\n", i)
		}
		list := filepath.Join(h.root, "early.txt")
		if err := os.WriteFile(list, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		errOut, code, rss := h.runMeasured(t, "run", "--batch", "--input-file", list)
		if code != exitUsage || !strings.Contains(errOut, "early.txt:2") {
			t.Fatalf("exit %d: %.500s", code, errOut)
		}
		t.Logf("bad line 2 of a million: peak RSS %.1f MB", float64(rss)/(1<<20))
	})

	long := "https://example.org/" + strings.Repeat("a", 9018-len("https://example.org/"))
	wantLong := fmt.Sprintf("is 9018 bytes, longer than the limit of %d shared with the collector", limits.MaxInputBytes)
	t.Run("over-long URL", func(t *testing.T) {
		list := writeList(t, h.root, "long.txt", "https://ok.example/\n"+long+"\n")
		for _, args := range [][]string{{"--input-file", list}, {"--input", long}} {
			errOut, code, _ := h.runMeasured(t, append([]string{"run", "--batch"}, args...)...)
			if code != exitUsage || !strings.Contains(errOut, wantLong) || strings.Contains(errOut, strings.Repeat("a", 100)) {
				t.Errorf("%s: exit %d (want %d): %.500s", args[0], code, exitUsage, errOut)
			}
		}
	})

	t.Run("over-long network_name", func(t *testing.T) {
		bad := *h
		// loopbackConfig has a [probe] table: write the key into it.
		cfg := strings.Replace(loopbackConfig(h.data, true, ""), "[probe]\n", "[probe]\nnetwork_name = \""+strings.Repeat("n", 50<<20)+"\"\n", 1)
		bad.config = writeList(t, h.root, "name.toml", cfg)
		errOut, code, _ := bad.runMeasured(t, "run", "--batch", "--input", "https://127.0.0.1:1/")
		if code != exitUsage || !strings.Contains(errOut, "probe.network_name") ||
			!strings.Contains(errOut, fmt.Sprintf("network_name is %d bytes, longer than the limit of %d shared with the collector", 50<<20, limits.MaxNetworkNameBytes)) ||
			len(errOut) > 2000 {
			t.Errorf("exit %d (want %d), %d bytes of stderr: %.500s", code, exitUsage, len(errOut), errOut)
		}
	})

	t.Run("unusable storage.dir", func(t *testing.T) {
		file := writeList(t, h.root, "a-file", "")
		bad := *h
		bad.config = writeList(t, h.root, "dir.toml", loopbackConfig(filepath.Join(file, "data"), true, ""))
		errOut, code, _ := bad.runMeasured(t, "run", "--batch", "--input", "https://127.0.0.1:1/")
		if code != exitUsage || !strings.Contains(errOut, "storage.dir") {
			t.Errorf("exit %d (want %d): %s", code, exitUsage, errOut)
		}
	})
}
