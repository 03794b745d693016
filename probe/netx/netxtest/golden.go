package netxtest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// volatileTop are the base keys of a measurement that change from run to run (or
// from machine to machine) whatever the code does.
var volatileTop = []string{"measurement_uid", "report_id", "measurement_start_time", "test_start_time", "test_runtime", "software_version"}

// volatileAnnotations change with the machine and the build.
var volatileAnnotations = []string{"architecture", "platform", "go_version", "engine_version"}

// volatileKeys, anywhere in test_keys, change with the run: times, throwaway
// certificates and keys, server-chosen ciphers (which depend on the CPU's AES
// support), generated UDP ports, raw DNS bytes (random query ids).
var volatileKeys = map[string]string{
	"t0":                 "<time>",
	"t":                  "<time>",
	"data":               "<bytes>",
	"x_leaf_spki_sha256": "<spki>",
	"cipher_suite":       "<cipher>",
	"raw_response":       "<raw>",
	"port":               "<port>",
	"x_body_seconds":     "<time>",
}

// volatileHeaders are response headers whose values change with the run.
var volatileHeaders = map[string]bool{"Date": true}

var loopbackPort = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// NormaliseMeasurement replaces the volatile fields of a measurement's JSON so that
// it can be compared with a golden file: base keys that change per run, times,
// certificate bytes and hashes, ciphers, Date headers and loopback ports.
// Everything else (the shape, the failure strings, the verdicts) is kept.
func NormaliseMeasurement(t testing.TB, b []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("measurement is not JSON: %v", err)
	}
	for _, k := range volatileTop {
		if _, ok := m[k]; ok {
			m[k] = "<volatile>"
		}
	}
	if ann, ok := m["annotations"].(map[string]any); ok {
		for _, k := range volatileAnnotations {
			ann[k] = "<volatile>"
		}
	}
	m["test_keys"] = normaliseValue(m["test_keys"])
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // keep <time> and bodies readable in the golden file
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return loopbackPort.ReplaceAll(out.Bytes(), []byte("127.0.0.1:PORT"))
}

func normaliseValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			if repl, ok := volatileKeys[k]; ok && sub != nil {
				x[k] = repl
				continue
			}
			if volatileHeaders[k] {
				x[k] = "<volatile>"
				continue
			}
			x[k] = normaliseValue(sub)
		}
	case []any:
		// A header line is a [name, value] pair.
		if len(x) == 2 {
			if name, ok := x[0].(string); ok && volatileHeaders[name] {
				x[1] = "<volatile>"
				return x
			}
		}
		for i := range x {
			x[i] = normaliseValue(x[i])
		}
	}
	return v
}

// CompareGolden compares got with the file testdata/name, rewriting the file first
// when update is true (the -update flag of the calling test).
func CompareGolden(t testing.TB, name string, got []byte, update bool) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run the test with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("measurement differs from %s (run with -update if the change is intended):\n%s", path, got)
	}
}
