package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExplicitInputs(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "l.csv")
	os.WriteFile(csv, []byte(threeURLs+"https://127.0.0.1:1/news,NEWS,News Media,2024-01-01,test,dup\n"), 0o600)
	cases := []struct {
		name string
		test string
		f    runFlags
		want string // inputs joined by space; "<nil>" for the default list
		err  string
	}{
		{"default list", "web_connectivity", runFlags{}, "<nil>", ""},
		{"default list, category checked", "web_connectivity", runFlags{categories: []string{"NOPE"}}, "", `unknown category "NOPE"`},
		{"input then file, deduplicated", "web_connectivity", runFlags{inputs: []string{"https://127.0.0.1:1/gov"}, inputFile: csv},
			"https://127.0.0.1:1/gov https://127.0.0.1:1/news https://127.0.0.1:1/rights", ""},
		{"file filtered", "web_connectivity", runFlags{inputFile: csv, categories: []string{"govt"}}, "https://127.0.0.1:1/gov", ""},
		{"file filtered to nothing", "web_connectivity", runFlags{inputFile: csv, categories: []string{"PORN"}}, "", "has no URL"},
		{"bad --input", "web_connectivity", runFlags{inputs: []string{"example.org"}}, "", `bad url "example.org"`},
		{"missing file", "web_connectivity", runFlags{inputFile: filepath.Join(dir, "none")}, "", "no such file"},
		{"tcpconnect takes any input", "tcpconnect", runFlags{inputs: []string{"127.0.0.1:1"}}, "127.0.0.1:1", ""},
		{"tcpconnect repeats are kept", "tcpconnect", runFlags{inputs: []string{"127.0.0.1:1", "127.0.0.1:1"}}, "127.0.0.1:1 127.0.0.1:1", ""},
		{"tcpconnect needs one", "tcpconnect", runFlags{}, "", "no input"},
		{"connectivity needs none", "connectivity", runFlags{}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := explicitInputs(context.Background(), c.test, &c.f)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := strings.Join(got, " ")
			if got == nil {
				s = "<nil>"
			}
			if s != c.want {
				t.Errorf("inputs %q, want %q", s, c.want)
			}
		})
	}
}
