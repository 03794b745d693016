package ooni

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/vantage-probe/vantage/report/atomicfile"
)

// WriteRawTree reads OONI-shaped lines from r and writes them into OONI's raw-data
// layout under root, one gzip'd JSON-lines file per hour, country and test:
// root/raw/YYYYMMDD/HH/CC/testname/YYYYMMDDHH_CC_testname.n0.K.jsonl.gz (the
// layout of OONI's public bucket; K is the first number not used yet, so a later
// pull adds files beside earlier ones instead of replacing them). Each file is
// written atomically. It returns the files written, sorted. The lines of one
// file are held in memory until written.
func WriteRawTree(r io.Reader, root string) ([]string, error) {
	groups := map[string][][]byte{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20+1)
	for no := 1; sc.Scan(); no++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		key, err := rawKey(line)
		if err != nil {
			return nil, fmt.Errorf("ooni raw tree: line %d: %w", no, err)
		}
		groups[key] = append(groups[key], append([]byte(nil), line...))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ooni raw tree: %w", err)
	}
	var files []string
	for key, lines := range groups {
		day, hour, cc, test := key[0:8], key[8:10], key[11:13], key[14:]
		dir := filepath.Join(root, "raw", day, hour, cc, test)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return files, fmt.Errorf("ooni raw tree: %w", err)
		}
		path := freeName(dir, fmt.Sprintf("%s%s_%s_%s.n0.", day, hour, cc, test))
		err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
			zw := gzip.NewWriter(w)
			for _, l := range lines {
				zw.Write(l)
				if _, err := zw.Write([]byte{'\n'}); err != nil {
					return err
				}
			}
			return zw.Close()
		})
		if err != nil {
			return files, fmt.Errorf("ooni raw tree: %w", err)
		}
		files = append(files, path)
	}
	sort.Strings(files)
	return files, nil
}

var (
	ooniTimeRE = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2}) (\d{2}):\d{2}:\d{2}$`)
	ccRE       = regexp.MustCompile(`^[A-Z]{2}$`)
	testRE     = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)
)

// rawKey is "YYYYMMDDHH_CC_testname" of a line; every part is checked, since it
// becomes a path.
func rawKey(line []byte) (string, error) {
	var m struct {
		Start    string `json:"measurement_start_time"`
		CC       string `json:"probe_cc"`
		TestName string `json:"test_name"`
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return "", err
	}
	t := ooniTimeRE.FindStringSubmatch(m.Start)
	if t == nil || !ccRE.MatchString(m.CC) || !testRE.MatchString(m.TestName) {
		return "", errors.New("measurement_start_time, probe_cc or test_name not in OONI's form")
	}
	return t[1] + t[2] + t[3] + t[4] + "_" + m.CC + "_" + m.TestName, nil
}

// freeName returns dir/prefix + K + ".jsonl.gz" for the first K not taken.
func freeName(dir, prefix string) string {
	for k := 0; ; k++ {
		p := filepath.Join(dir, prefix+fmt.Sprint(k)+".jsonl.gz")
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return p
		}
	}
}
