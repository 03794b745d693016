//go:build linux

package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
)

// maxProbeLine bounds one JSON line of the probe's output (a measurement with
// bodies and events can be large).
const maxProbeLine = 16 << 20

// ProbeConfig is the probe's configuration file for a lab, in the shape of
// probe/config (only the keys the lab sets).
type ProbeConfig struct {
	Probe struct {
		Country         string `toml:"country"`
		ASN             string `toml:"asn"`
		InformedConsent bool   `toml:"informed_consent"`
	} `toml:"probe"`
	Network struct {
		Resolver string `toml:"resolver"`
	} `toml:"network"`
	TLS struct {
		Roots string `toml:"roots"`
	} `toml:"tls"`
	Control struct {
		Helpers      []string     `toml:"helpers"`
		HelperRoutes []RouteEntry `toml:"helper_routes,omitempty"`
	} `toml:"control"`
	Canaries CanarySets `toml:"canaries"`
	Storage  struct {
		Dir string `toml:"dir"`
	} `toml:"storage"`
	Upload struct {
		Enabled    bool         `toml:"enabled"`
		Collector  string       `toml:"collector,omitempty"`
		Collectors []RouteEntry `toml:"collectors,omitempty"`
	} `toml:"upload"`
	Run     *RunSettings      `toml:"run,omitempty"`
	Targets map[string]string `toml:"targets,omitempty"`
}

// RouteEntry is one route of [upload] collectors or [control] helper_routes.
type RouteEntry struct {
	URL   string `toml:"url"`
	Front string `toml:"front,omitempty"`
	Proxy string `toml:"proxy,omitempty"`
}

// probeConfig builds the configuration for a scenario run in this lab.
func (l *Lab) probeConfig(sc *Scenario) *ProbeConfig {
	var c ProbeConfig
	c.Probe.Country, c.Probe.ASN, c.Probe.InformedConsent = "KZ", "AS9198", true
	resolver := RouterAddr
	if sc.Resolver == "honest" {
		resolver = HonestResolver
	}
	c.Network.Resolver = fmt.Sprintf("udp://%s:53", resolver)
	c.TLS.Roots = l.CAFile()
	c.Control.Helpers = []string{"http://" + HelperAddr.String()}
	c.Control.HelperRoutes = sc.HelperRoutes
	c.Canaries.Domestic, c.Canaries.Foreign = canaryConfig()
	if sc.Canaries != nil {
		c.Canaries = *sc.Canaries
	}
	c.Storage.Dir = filepath.Join(l.Dir, "store")
	if sc.Run != (RunSettings{}) {
		r := sc.Run
		c.Run = &r
	}
	return &c
}

// Measurement is the part of one measurement the lab reads.
type Measurement struct {
	Input    string `json:"input"`
	TestName string `json:"test_name"`
	TestKeys struct {
		Verdict  string          `json:"verdict"`
		Method   string          `json:"method"`
		Reason   string          `json:"reason"`
		Evidence json.RawMessage `json:"evidence"`
	} `json:"test_keys"`
	// Raw is the whole test_keys object, for the service nettests' keys.
	Raw json.RawMessage `json:"-"`
}

// ProbeRun is what one run of the probe printed and cost.
type ProbeRun struct {
	Measurements []Measurement
	// Output is everything the probe printed on stdout (its JSON lines).
	Output []byte
	// Summary is the raw last line's "summary" object, nil if none was printed.
	Summary        json.RawMessage
	NetworkVerdict string
	ExitCode       int
	// TimedOut is set when the probe was killed at the scenario's time bound.
	TimedOut bool
	Stderr   string
	Wall     time.Duration
	// MaxRSSKiB is the probe's peak resident set (getrusage of the child).
	MaxRSSKiB int64
}

// RunProbe runs the probe binary in the probe namespace: `vantage run --batch
// --json` on urls, or `vantage check --json` when urls is nil.
func (l *Lab) RunProbe(ctx context.Context, bin string, sc *Scenario, urls []string) (*ProbeRun, error) {
	cfgPath := filepath.Join(l.Dir, "vantage.toml")
	pc := l.probeConfig(sc)
	targets, err := l.writeTargets(sc)
	if err != nil {
		return nil, err
	}
	if len(targets) > 0 {
		pc.Targets = targets
	}
	var cfg bytes.Buffer
	if err := toml.NewEncoder(&cfg).Encode(pc); err != nil {
		return nil, fmt.Errorf("lab: probe config: %w", err)
	}
	if err := os.WriteFile(cfgPath, cfg.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	args := []string{"check", "--json", "--config", cfgPath}
	if sc.Command == "run" && len(urls) == 0 {
		args = []string{"run", "--batch", "--json", "--config", cfgPath}
		if sc.Nettest != "" {
			args = append(args, sc.Nettest)
		}
	} else if sc.Command == "run" {
		listPath := filepath.Join(l.Dir, "urls.txt")
		if err := os.WriteFile(listPath, []byte(strings.Join(urls, "\n")+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		args = []string{"run", "--batch", "--json", "--config", cfgPath, "--input-file", listPath}
	}
	if len(sc.Groups) > 0 {
		args = append(args, "--group", strings.Join(sc.Groups, ","))
	}
	cmd := l.Topology.Probe.Command(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+l.Dir, "XDG_CONFIG_HOME="+l.Dir, "XDG_DATA_HOME="+l.Dir,
		EnvRunMarker+"="+l.Topology.Prefix)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout bytes.Buffer
	stderr := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	start := time.Now()
	err = cmd.Run()
	pr := &ProbeRun{Wall: time.Since(start), Stderr: stderr.String(), Output: stdout.Bytes()}
	if cmd.ProcessState != nil {
		pr.ExitCode = cmd.ProcessState.ExitCode()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			pr.MaxRSSKiB = int64(ru.Maxrss) // kilobytes on Linux; int32 on 32-bit targets
		}
	}
	perr := pr.parse(stdout.Bytes())
	if ctx.Err() != nil {
		// What the probe printed before it was killed is kept for the caller.
		return pr, fmt.Errorf("lab: probe: %w", ctx.Err())
	}
	if perr != nil {
		return pr, perr
	}
	if err != nil && len(pr.Measurements) == 0 && pr.Summary == nil {
		return pr, fmt.Errorf("lab: probe %s: %w: %s", strings.Join(args[:1], " "), err, tail(pr.Stderr, 2000))
	}
	return pr, nil
}

// parse reads the probe's JSON lines: measurements, then a summary line.
func (pr *ProbeRun) parse(out []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), maxProbeLine)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var probe struct {
			Summary json.RawMessage `json:"summary"`
		}
		if err := json.Unmarshal(line, &probe); err != nil {
			return fmt.Errorf("lab: probe printed a line that is not JSON: %.200s", line)
		}
		if probe.Summary != nil {
			pr.Summary = probe.Summary
			var s struct {
				NetworkVerdict    string `json:"network_verdict"`
				NetworkVerdictRun string `json:"network_verdict_run"`
			}
			if json.Unmarshal(probe.Summary, &s) == nil && s.NetworkVerdict != "" {
				pr.NetworkVerdict = s.NetworkVerdict
			}
			if s.NetworkVerdictRun != "" {
				pr.NetworkVerdict = s.NetworkVerdictRun // the checks and the URL phase together
			}
			continue
		}
		var m Measurement
		if err := json.Unmarshal(line, &m); err != nil {
			return fmt.Errorf("lab: probe measurement: %w", err)
		}
		var raw struct {
			TestKeys json.RawMessage `json:"test_keys"`
		}
		if json.Unmarshal(line, &raw) == nil {
			m.Raw = raw.TestKeys
		}
		pr.Measurements = append(pr.Measurements, m)
		if m.TestName == "connectivity" && pr.Summary == nil {
			pr.NetworkVerdict = m.TestKeys.Verdict // until a summary says otherwise
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("lab: probe output: %w", err)
	}
	return nil
}

// URLMeasurement returns the web_connectivity measurement of url, if any.
func (pr *ProbeRun) URLMeasurement(url string) (*Measurement, bool) {
	for i := range pr.Measurements {
		m := &pr.Measurements[i]
		if m.TestName != "connectivity" && strings.TrimSuffix(m.Input, "/") == strings.TrimSuffix(url, "/") {
			return m, true
		}
	}
	return nil, false
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
