package ooni_test

import (
	"bufio"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/report/ooni"
)

func TestRawTreeLayout(t *testing.T) {
	root := t.TempDir()
	in := `{"measurement_start_time":"2022-01-05 10:59:59","probe_cc":"KZ","test_name":"web_connectivity","n":1}
{"measurement_start_time":"2022-01-05 10:00:00","probe_cc":"KZ","test_name":"web_connectivity","n":2}
{"measurement_start_time":"2022-01-05 11:00:00","probe_cc":"KZ","test_name":"connectivity","n":3}
`
	files, err := ooni.WriteRawTree(strings.NewReader(in), root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(root, "raw/20220105/10/KZ/web_connectivity/2022010510_KZ_web_connectivity.n0.0.jsonl.gz"),
		filepath.Join(root, "raw/20220105/11/KZ/connectivity/2022010511_KZ_connectivity.n0.0.jsonl.gz"),
	}
	if len(files) != 2 || files[0] != want[0] || files[1] != want[1] {
		t.Fatalf("files %q, want %q", files, want)
	}
	f, err := os.Open(want[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for sc := bufio.NewScanner(zr); sc.Scan(); n++ {
	}
	if n != 2 {
		t.Errorf("%d lines in the 10:00 file, want 2", n)
	}
	// A second write adds a file beside the first.
	again, err := ooni.WriteRawTree(strings.NewReader(in), root)
	if err != nil || !strings.HasSuffix(again[1], ".n0.1.jsonl.gz") {
		t.Errorf("second write: %q %v", again, err)
	}
	// Values that would leave the tree are refused.
	for _, bad := range []string{
		`{"measurement_start_time":"2022-01-05 10:00:00","probe_cc":"..","test_name":"x"}`,
		`{"measurement_start_time":"2022-01-05 10:00:00","probe_cc":"KZ","test_name":"../../etc"}`,
		`{"measurement_start_time":"2022/01/05","probe_cc":"KZ","test_name":"x"}`,
	} {
		if _, err := ooni.WriteRawTree(strings.NewReader(bad+"\n"), root); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
