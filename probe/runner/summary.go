package runner

import (
	"encoding/json"
	"sort"
	"sync"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/report"
)

// Summary is what a run found: the last line of `vantage run --json`, and what the
// store keeps with the run.
type Summary struct {
	NetworkVerdict      string              `json:"network_verdict"`       // before the inputs; "" = not checked
	NetworkVerdictAfter string              `json:"network_verdict_after"` // after the inputs
	URLs                map[string]int      `json:"urls"`                  // URL verdict → count
	Blocked             map[string][]string `json:"blocked"`               // method → URLs
	Intermittent        map[string][]string `json:"intermittent"`          // method → URLs
	// Services are the messaging and circumvention nettests' verdicts, by test name.
	Services     map[string]ServiceSummary `json:"services"`
	Measurements int                       `json:"measurements"` // every saved measurement, checks included
	RunID        int64                     `json:"run_id"`
	DurationS    float64                   `json:"duration_s"`
	Uploaded     bool                      `json:"uploaded"`
	UploadError  string                    `json:"upload_error,omitempty"`
	// URLPhase is what the URL results themselves say of the network, and
	// NetworkVerdictRun the run's network verdict: the checks before and after
	// combined with the URL phase (runNetworkVerdict).
	URLPhase          *URLPhase `json:"url_phase,omitempty"`
	NetworkVerdictRun string    `json:"network_verdict_run,omitempty"`

	mu       sync.Mutex
	outcomes []urlOutcome
}

func newSummary(runID int64) *Summary {
	s := &Summary{RunID: runID, URLs: map[string]int{}, Blocked: map[string][]string{}, Intermittent: map[string][]string{},
		Services: map[string]ServiceSummary{}}
	for _, v := range nettests.URLVerdicts() {
		s.URLs[v] = 0
	}
	return s
}

func (s *Summary) add(meas *report.Measurement) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Measurements++
	if sr, ok := meas.TestKeys.(nettests.ServiceResult); ok {
		s.Services[meas.TestName] = serviceSummary(sr)
	}
	ur, ok := meas.TestKeys.(nettests.URLResult)
	if !ok {
		return
	}
	verdict, method := ur.URLVerdict()
	s.URLs[verdict]++
	if o, ok := outcomeOf(meas, ur); ok {
		s.outcomes = append(s.outcomes, o)
	}
	input := ""
	if meas.Input != nil {
		input = *meas.Input
	}
	switch verdict {
	case nettests.VerdictBlocked:
		s.Blocked[method] = insertSorted(s.Blocked[method], input)
	case nettests.VerdictIntermittent:
		s.Intermittent[method] = insertSorted(s.Intermittent[method], input)
	}
}

// closeNetwork judges the URL phase and sets the run's network verdict, once the
// checks are done and every URL result was added.
func (s *Summary) closeNetwork(before, after string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.URLPhase = judgeURLPhase(s.outcomes)
	s.NetworkVerdictRun = runNetworkVerdict(before, after, s.URLPhase)
}

func insertSorted(list []string, v string) []string {
	i := sort.SearchStrings(list, v)
	list = append(list, "")
	copy(list[i+1:], list[i:])
	list[i] = v
	return list
}

// MarshalJSON writes unknown network verdicts as null.
func (s *Summary) MarshalJSON() ([]byte, error) {
	type plain Summary
	s.mu.Lock()
	defer s.mu.Unlock()
	out := struct {
		*plain
		NetworkVerdict      *string `json:"network_verdict"`
		NetworkVerdictAfter *string `json:"network_verdict_after"`
	}{plain: (*plain)(s), NetworkVerdict: nullable(s.NetworkVerdict), NetworkVerdictAfter: nullable(s.NetworkVerdictAfter)}
	return json.Marshal(out)
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// JSON is the summary as stored with the run.
func (s *Summary) JSON() []byte {
	b, _ := json.Marshal(s) // only maps of strings and numbers: always encodes
	return b
}

// URLCount is the number of URL results.
func (s *Summary) URLCount() int {
	n := 0
	for _, c := range s.URLs {
		n += c
	}
	return n
}

// ServiceSummary is one service nettest's result in a run's summary.
type ServiceSummary struct {
	Verdict string `json:"verdict"`
	// Blocked says what is blocked and how; "" unless blocked or degraded.
	Blocked string   `json:"blocked,omitempty"`
	Methods []string `json:"methods"`
	// Detail is the nettest's one-line count ("0/9 authorities reachable"), when
	// it gives one.
	Detail string `json:"detail,omitempty"`
}

func serviceSummary(sr nettests.ServiceResult) ServiceSummary {
	v, blocked := sr.ServiceVerdict()
	out := ServiceSummary{Verdict: v, Blocked: blocked, Methods: append([]string{}, sr.ServiceMethods()...)}
	if d, ok := sr.(interface{ ServiceDetail() string }); ok {
		out.Detail = d.ServiceDetail()
	}
	return out
}
