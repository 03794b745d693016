//go:build linux

package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/miekg/dns"

	"github.com/vantage-probe/vantage/nettests"
)

// This file lets a scenario run the messaging and circumvention nettests
// (`groups`): each [[service]] gives its nettest lab targets (written as the
// nettest's [targets] file, every endpoint a lab site's address) and the
// verdict, the blocked endpoints and the OONI keys the methodology expects.

// ExpectService is one service nettest of a scenario.
type ExpectService struct {
	// Name is the nettest (whatsapp, telegram, signal, facebook_messenger, tor,
	// dnscheck).
	Name string `toml:"name"`
	// Targets are its endpoints, each on a lab site.
	Targets []ServiceTarget `toml:"target"`
	// PinnedCA, for signal, is "lab": the lab CA plays Signal's pinned CA (so an
	// interceptor's chain does not reach it).
	PinnedCA string `toml:"pinned_ca"`
	// Prefixes, for facebook_messenger, are "Facebook's" address blocks.
	Prefixes []string `toml:"prefixes"`
	// Names, for dnscheck, are the test names.
	Names []string `toml:"names"`
	// Verdict, Blocked (blocked_endpoints) and Reason are the expected keys.
	Verdict string `toml:"verdict"`
	Blocked string `toml:"blocked"`
	Reason  string `toml:"reason"`
	// OONI maps OONI keys to their expected values.
	OONI map[string]any `toml:"ooni"`
}

// ServiceTarget is one endpoint: a lab site, its port and role.
type ServiceTarget struct {
	ID   string `toml:"id"`
	Role string `toml:"role"`
	Site string `toml:"site"`
	Port int    `toml:"port"`
	Path string `toml:"path"`
	// ByIP names the endpoint by the site's address, as Telegram's data centres
	// and Tor's authorities are.
	ByIP bool `toml:"by_ip"`
}

var serviceVerdicts = nettests.ServiceVerdicts()

func (sc *Scenario) validateServices(w *World) error {
	if sc.Nettest != "" && (len(sc.Groups) > 0 || len(sc.URLs) > 0) {
		return fmt.Errorf("nettest = %q measures no URL and takes no groups", sc.Nettest)
	}
	for _, g := range sc.Groups {
		if g != "websites" && g != "im" && g != "circumvention" {
			return fmt.Errorf("group %q is not websites, im or circumvention", g)
		}
	}
	for _, s := range sc.Services {
		if !contains(serviceVerdicts, s.Verdict) {
			return fmt.Errorf("service %s: verdict %q is not one of %s", s.Name, s.Verdict, strings.Join(serviceVerdicts, ", "))
		}
		for _, t := range s.Targets {
			if _, ok := w.Lookup(t.Site); !ok {
				return fmt.Errorf("service %s: target %s: no site %s", s.Name, t.ID, t.Site)
			}
		}
	}
	return nil
}

// writeTargets writes each service's target file and returns [targets].
func (l *Lab) writeTargets(sc *Scenario) (map[string]string, error) {
	w, err := newWorld(sc.Sites)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range sc.Services {
		list, err := l.targetList(w, s)
		if err != nil {
			return nil, err
		}
		b, _ := json.Marshal(list) // strings and numbers only
		path := filepath.Join(l.Dir, "targets-"+s.Name+".json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		out[s.Name] = path
	}
	return out, nil
}

func (l *Lab) targetList(w *World, s ExpectService) (map[string]any, error) {
	var targets []map[string]any
	for _, t := range s.Targets {
		site, _ := w.Lookup(t.Site)
		host := site.Name
		if t.ByIP {
			host = site.Addr.String()
		}
		targets = append(targets, map[string]any{"id": t.ID, "role": t.Role, "host": host, "port": t.Port,
			"addr": site.Addr.String(), "path": t.Path, "source": "lab site " + site.Name})
	}
	list := map[string]any{"targets": targets, "prefixes": s.Prefixes, "names": s.Names}
	if s.PinnedCA == "lab" {
		pem, err := os.ReadFile(l.CAFile())
		if err != nil {
			return nil, fmt.Errorf("lab: pinned CA: %w", err)
		}
		list["ca_pem"] = string(pem)
	}
	return list, nil
}

// compareServices adds one outcome per expected service: its verdict, blocked
// endpoints and reason, then each expected OONI key.
func compareServices(sc *Scenario, pr *ProbeRun, r *Result) {
	for _, s := range sc.Services {
		o := URLOutcome{URL: "service " + s.Name, Expected: serviceExpected(s)}
		m, ok := pr.serviceMeasurement(s.Name)
		if !ok {
			o.Got = "(no measurement)"
			r.URLs = append(r.URLs, o)
			continue
		}
		var keys map[string]any
		_ = json.Unmarshal(m.Raw, &keys) // parsed once already
		got := fmt.Sprint(keys["verdict"])
		blocked, _ := keys["blocked_endpoints"].(string)
		reason, _ := keys["reason"].(string)
		o.Got = serviceText(got, blocked, reason)
		o.OK = got == s.Verdict && (s.Blocked == "" || blocked == s.Blocked) && (s.Reason == "" || reason == s.Reason)
		var bad []string
		for _, k := range sortedKeys(s.OONI) {
			if fmt.Sprint(keys[k]) != fmt.Sprint(s.OONI[k]) {
				bad = append(bad, fmt.Sprintf("%s=%v (want %v)", k, keys[k], s.OONI[k]))
			}
		}
		if len(bad) > 0 {
			o.OK = false
			o.Evidence = "OONI keys: " + strings.Join(bad, ", ")
		}
		r.URLs = append(r.URLs, o)
	}
}

func serviceExpected(s ExpectService) string { return serviceText(s.Verdict, s.Blocked, s.Reason) }

func serviceText(verdict, blocked, reason string) string {
	if blocked != "" {
		verdict += " [" + blocked + "]"
	}
	if reason != "" {
		verdict += " (" + reason + ")"
	}
	return verdict
}

func (pr *ProbeRun) serviceMeasurement(name string) (*Measurement, bool) {
	for i := range pr.Measurements {
		if pr.Measurements[i].TestName == name {
			return &pr.Measurements[i], true
		}
	}
	return nil, false
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// maxDoHQuery caps a DoH request body: a DNS message is at most 65535 bytes.
const maxDoHQuery = 65535

// mountDoH makes every site with doh = true a DoH resolver answering as r does.
func (l *Lab) mountDoH(r *resolver) {
	for _, s := range l.World.Sites() {
		if s.DoH {
			l.World.mounts.Store(s.Name, dohHandler{r})
		}
	}
}

// dohHandler answers POSTed wire queries on /dns-query (RFC 8484, section 4.1).
type dohHandler struct{ r *resolver }

func (h dohHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/dns-query" || req.Method != http.MethodPost {
		http.NotFound(w, req)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxDoHQuery))
	q := new(dns.Msg)
	if err != nil || q.Unpack(body) != nil || len(q.Question) != 1 {
		http.Error(w, "bad DNS query", http.StatusBadRequest)
		return
	}
	m, ok := h.r.answer(q)
	if !ok {
		http.Error(w, "no answer", http.StatusServiceUnavailable)
		return
	}
	out, err := m.Pack()
	if err != nil {
		http.Error(w, "cannot pack", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/dns-message")
	w.Write(out)
}
