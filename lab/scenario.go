//go:build linux

package lab

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/vantage-probe/vantage/nettests"
)

//go:embed scenarios/*.toml
var scenarioFS embed.FS

// Scenario is one emulated network and what the methodology expects the probe to
// conclude in it. It is read from scenarios/NAME.toml.
type Scenario struct {
	Name        string `toml:"-"`
	Description string `toml:"description"`
	// Command is "run" (URLs plus the network check, the default) or "check"
	// (the network verdict only).
	Command string `toml:"command"`
	// Sites are the scenario's web sites, beside the canaries every lab has.
	Sites []Site `toml:"site"`
	// Censor lists the blocks the ISP router applies, in order.
	Censor []Block `toml:"censor"`
	// URLs are the inputs and their expected verdicts.
	URLs []ExpectURL `toml:"url"`
	// Network is the expected network verdict.
	Network string `toml:"network"`
	// Resolver is the probe's configured resolver: "isp" (the router, default) or
	// "honest" (a foreign resolver, reached across the censor).
	Resolver string `toml:"resolver"`
	// Run overrides the probe's [run] settings, e.g. for a slow throttled site.
	Run RunSettings `toml:"run"`
	// Canaries, when set, replace the probe's [canaries] (canaryConfig), e.g. to
	// give it allowlisted canaries beside ordinary domestic ones.
	Canaries *CanarySets `toml:"canaries"`
	// HelperRoutes are further control helpers for the probe ([control]
	// helper_routes): fronted or proxied routes to a site that serves the helper.
	HelperRoutes []RouteEntry `toml:"helper_route"`
	// Pending, when set, says why the probe is known to get this scenario wrong
	// (an issue number, a missing feature). The suite then reports the diff
	// without failing, and fails once the scenario passes, so that the marker
	// is removed as soon as it is no longer true. The expectations stay as the
	// methodology says.
	Pending string `toml:"pending"`
	// Groups, when set, runs `vantage run --group` with them (websites needs
	// URLs; im and circumvention need a [[service]] for each of their nettests).
	Groups []string `toml:"groups"`
	// Nettest, when set, runs that one nettest (`vantage run NETTEST`) instead.
	Nettest string `toml:"nettest"`
	// Services are the messaging and circumvention nettests and what they must
	// conclude (lab/services.go).
	Services []ExpectService `toml:"service"`
}

// CanarySets mirror the probe's [canaries] configuration table.
type CanarySets struct {
	Domestic    []string `toml:"domestic"`
	Allowlisted []string `toml:"allowlisted,omitempty"`
	Foreign     []string `toml:"foreign"`
}

// RunSettings mirror the probe's [run] configuration table.
type RunSettings struct {
	Parallelism int     `toml:"parallelism"`
	Timeout     float64 `toml:"timeout"`
	Retries     int     `toml:"retries"`
}

// ExpectURL is one input and the verdict the methodology calls for.
type ExpectURL struct {
	URL string `toml:"url"`
	// Verdict is the expected test_keys.verdict.
	Verdict string `toml:"verdict"`
	// AnyOf replaces Verdict where the methodology allows several verdicts (a
	// site measured while the network flips); Why must say so.
	AnyOf []string `toml:"any_of"`
	// Method is the expected test_keys.method ("" means not checked unless the
	// verdict is blocked or intermittent, where it is required).
	Method string `toml:"method"`
	// Reason is the expected test_keys.reason of an inconclusive verdict.
	Reason string `toml:"reason"`
	Why    string `toml:"why"`
}

// Accepts reports whether v is an expected verdict.
func (e ExpectURL) Accepts(v string) bool {
	if len(e.AnyOf) > 0 {
		for _, a := range e.AnyOf {
			if a == v {
				return true
			}
		}
		return false
	}
	return e.Verdict == v
}

// Expected renders the expectation for a diff.
func (e ExpectURL) Expected() string {
	v := e.Verdict
	if len(e.AnyOf) > 0 {
		v = strings.Join(e.AnyOf, "|")
	}
	if e.Method != "" {
		v += " " + e.Method
	}
	if e.Reason != "" {
		v += " (" + e.Reason + ")"
	}
	return v
}

var (
	urlVerdicts     = nettests.URLVerdicts()
	networkVerdicts = nettests.NetworkVerdicts()
)

// ParseScenario decodes and checks one scenario file; name is its base name.
func ParseScenario(name string, data []byte) (*Scenario, error) {
	var sc Scenario
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&sc)
	if err != nil {
		return nil, fmt.Errorf("lab: scenario %s: %w", name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("lab: scenario %s: unknown key %s", name, und[0])
	}
	sc.Name = name
	if err := sc.validate(); err != nil {
		return nil, fmt.Errorf("lab: scenario %s: %w", name, err)
	}
	return &sc, nil
}

func (sc *Scenario) validate() error {
	if sc.Command == "" {
		sc.Command = "run"
	}
	if sc.Command != "run" && sc.Command != "check" {
		return fmt.Errorf("command %q is not run or check", sc.Command)
	}
	if sc.Resolver == "" {
		sc.Resolver = "isp"
	}
	if sc.Resolver != "isp" && sc.Resolver != "honest" {
		return fmt.Errorf("resolver %q is not isp or honest", sc.Resolver)
	}
	if !contains(networkVerdicts, sc.Network) {
		return fmt.Errorf("network = %q is not a network verdict (%s)", sc.Network, strings.Join(networkVerdicts, ", "))
	}
	if sc.Command == "run" && len(sc.URLs) == 0 && len(sc.Services) == 0 {
		return errors.New("a run scenario needs at least one [[url]] or [[service]]")
	}
	if sc.Command == "check" && len(sc.URLs) > 0 {
		return errors.New("a check scenario measures no URL")
	}
	world, err := newWorld(sc.Sites)
	if err != nil {
		return err
	}
	if err := sc.validateServices(world); err != nil {
		return err
	}
	for _, site := range sc.Sites {
		if site.Variant != "" && site.Variant != "audience" && site.Variant != "dynamic" {
			return fmt.Errorf("site %s: variant %q is not audience or dynamic", site.Name, site.Variant)
		}
	}
	for i, b := range sc.Censor {
		if _, ok := blocks[b.Kind]; !ok {
			return fmt.Errorf("censor %d: unknown block %q (known: %s)", i+1, b.Kind, strings.Join(BlockKinds(), ", "))
		}
		if _, err := world.addrsOf(b.Targets); err != nil && !strings.HasPrefix(b.Kind, "dns.") && !strings.HasPrefix(b.Kind, "sni.") {
			return fmt.Errorf("censor %d: %w", i+1, err)
		}
	}
	seen := map[string]bool{}
	for _, u := range sc.URLs {
		if err := u.validate(); err != nil {
			return fmt.Errorf("url %s: %w", u.URL, err)
		}
		if seen[u.URL] {
			return fmt.Errorf("url %s listed twice", u.URL)
		}
		seen[u.URL] = true
	}
	return nil
}

func (u ExpectURL) validate() error {
	if !strings.HasPrefix(u.URL, "http://") && !strings.HasPrefix(u.URL, "https://") {
		return errors.New("not an http(s) URL")
	}
	verdicts := u.AnyOf
	if len(verdicts) == 0 {
		verdicts = []string{u.Verdict}
	} else if u.Verdict != "" || u.Why == "" {
		return errors.New("any_of replaces verdict and needs a why")
	}
	for _, v := range verdicts {
		if !contains(urlVerdicts, v) {
			return fmt.Errorf("verdict %q is not one of %s", v, strings.Join(urlVerdicts, ", "))
		}
	}
	if (u.Verdict == nettests.VerdictBlocked || u.Verdict == nettests.VerdictIntermittent) && u.Method == "" {
		return fmt.Errorf("a %s verdict needs its method", u.Verdict)
	}
	return nil
}

// Scenarios returns every embedded scenario, sorted by name.
func Scenarios() ([]*Scenario, error) {
	entries, err := fs.ReadDir(scenarioFS, "scenarios")
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	var out []*Scenario
	for _, e := range entries {
		data, err := fs.ReadFile(scenarioFS, path.Join("scenarios", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		sc, err := ParseScenario(strings.TrimSuffix(e.Name(), ".toml"), data)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// LookupScenario finds an embedded scenario by name, or reads a scenario file
// when name ends in .toml (to try a new scenario before adding it).
func LookupScenario(name string) (*Scenario, error) {
	if strings.HasSuffix(name, ".toml") {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		return ParseScenario(strings.TrimSuffix(filepath.Base(name), ".toml"), data)
	}
	all, err := Scenarios()
	if err != nil {
		return nil, err
	}
	for _, sc := range all {
		if sc.Name == name {
			return sc, nil
		}
	}
	return nil, fmt.Errorf("lab: no scenario %q (see vantage lab list)", name)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
