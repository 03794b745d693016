package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/registry"
	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/probe/runner"
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
		{"web-connectivity checks --input", "web-connectivity", runFlags{inputs: []string{"example.org"}}, "", `bad url "example.org"`},
		{"webconnectivity deduplicates", "webconnectivity", runFlags{inputs: []string{"https://127.0.0.1:1/a", "https://127.0.0.1:1/a"}}, "https://127.0.0.1:1/a", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := explicitInputs(context.Background(), registry.MustLookup(c.test), &c.f)
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

// TestEveryAliasRunsWithTheSameChecks: every spelling the registry accepts
// (web-connectivity, webconnectivity, ...) is composed exactly as the registered
// name: the same checks around the run, the same gating, the same input rules.
// Before the registry carried descriptors, "web-connectivity" resolved to
// web_connectivity but ran with no check before or after and no gating.
func TestEveryAliasRunsWithTheSameChecks(t *testing.T) {
	compose := func(name string) (*runner.Runner, *nettests.Env, error) {
		desc, err := registry.Lookup(name)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", name, err)
		}
		cfg := config.Defaults()
		env, err := newNettestEnv(cfg, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		r := &runner.Runner{}
		return r, env, r.Compose(desc, cfg, env)
	}
	for _, name := range registry.Names() {
		want, wantEnv, err := compose(name)
		if err != nil {
			t.Fatal(err)
		}
		wantInputs, wantErr := explicitInputs(context.Background(), registry.MustLookup(name), &runFlags{inputs: []string{"example.org", "example.org"}})
		for _, alias := range []string{strings.ReplaceAll(name, "_", "-"), strings.ReplaceAll(name, "_", "")} {
			got, gotEnv, err := compose(alias)
			if err != nil {
				t.Fatal(err)
			}
			if (got.Connectivity == nil) != (want.Connectivity == nil) || (got.Network == nil) != (want.Network == nil) ||
				(got.Skipped == nil) != (want.Skipped == nil) || (gotEnv.Network == nil) != (wantEnv.Network == nil) ||
				got.Measurer.Name() != want.Measurer.Name() {
				t.Errorf("%s runs unlike %s: checks %v/%v, gating %v/%v", alias, name,
					got.Connectivity != nil, want.Connectivity != nil, got.Skipped != nil, want.Skipped != nil)
			}
			inputs, err := explicitInputs(context.Background(), registry.MustLookup(alias), &runFlags{inputs: []string{"example.org", "example.org"}})
			if strings.Join(inputs, " ") != strings.Join(wantInputs, " ") || (err == nil) != (wantErr == nil) {
				t.Errorf("%s plans inputs %q (%v), %s %q (%v)", alias, inputs, err, name, wantInputs, wantErr)
			}
		}
	}
	r, env, err := compose("web-connectivity")
	if err != nil || r.Connectivity == nil || r.Network == nil || r.Skipped == nil || env.Network == nil {
		t.Fatalf("web-connectivity: checks %v, gating %v (%v)", r.Connectivity != nil, r.Skipped != nil, err)
	}
}
