package runner

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report"
)

// urlKeys are fake web_connectivity keys.
type urlKeys struct {
	Verdict string  `json:"verdict"`
	Method  *string `json:"method"`
	Reason  string  `json:"reason,omitempty"`
	Note    string  `json:"note,omitempty"`
}

func (k *urlKeys) URLVerdict() (string, string) {
	if k.Method == nil {
		return k.Verdict, ""
	}
	return k.Verdict, *k.Method
}
func (k *urlKeys) MarkInconclusive(reason string) {
	k.Verdict, k.Method, k.Reason = nettests.VerdictInconclusive, nil, reason
}

// fakeURLs answers a verdict per URL: "https://blocked-tcp.example/" → blocked with
// method tcp.timeout, "https://ok.example/" → ok, and so on.
type fakeURLs struct {
	calls atomic.Int32
	run   func(ctx context.Context, input string) // optional hook
	note  string
}

func (f *fakeURLs) Name() string    { return "web_connectivity" }
func (f *fakeURLs) Version() string { return "0.0.1" }
func (f *fakeURLs) Run(ctx context.Context, input string, _ *netx.Trace) (any, error) {
	f.calls.Add(1)
	if f.run != nil {
		f.run(ctx, input)
	}
	if !strings.HasPrefix(input, "https://") {
		return nil, errors.New("bad input")
	}
	host := strings.TrimSuffix(strings.TrimPrefix(input, "https://"), "/")
	verdict, method, _ := strings.Cut(strings.TrimSuffix(host, ".example"), "-")
	k := &urlKeys{Verdict: verdict, Note: f.note}
	if method != "" {
		m := strings.Replace(method, "_", ".", 1)
		k.Method = &m
	}
	return k, nil
}

type netKeys struct {
	Verdict string `json:"verdict"`
}

func (k *netKeys) NetworkVerdict() string { return k.Verdict }

// fakeConnectivity returns the scripted verdicts in order.
type fakeConnectivity struct {
	mu       sync.Mutex
	verdicts []string
}

func (f *fakeConnectivity) Name() string    { return "connectivity" }
func (f *fakeConnectivity) Version() string { return "0.0.1" }
func (f *fakeConnectivity) Run(context.Context, string, *netx.Trace) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.verdicts[0]
	if len(f.verdicts) > 1 {
		f.verdicts = f.verdicts[1:]
	}
	return &netKeys{Verdict: v}, nil
}

type fakeNetwork struct {
	mu       sync.Mutex
	observed []string
	up       bool
}

func (n *fakeNetwork) Verdict() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.observed) == 0 {
		return ""
	}
	return n.observed[len(n.observed)-1]
}
func (n *fakeNetwork) CanariesUp(context.Context) bool { return n.up }
func (n *fakeNetwork) Observe(r nettests.NetworkResult) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.observed = append(n.observed, r.NetworkVerdict())
}

// recorder is an Observer that keeps the order of events.
type recorder struct {
	mu     sync.Mutex
	events []string
	lines  [][]byte
}

func (r *recorder) Phase(name string) { r.add("phase " + name) }
func (r *recorder) Planned(n int)     { r.add(fmt.Sprint("planned ", n)) }
func (r *recorder) Completed(string)  {}
func (r *recorder) Saved(m *report.Measurement, line []byte) {
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
	in := ""
	if m.Input != nil {
		in = *m.Input
	}
	r.add("saved " + m.TestName + " " + in)
}
func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func skipped(input, reason string) any {
	return &urlKeys{Verdict: nettests.VerdictInconclusive, Reason: reason}
}

func newTestRunner(t *testing.T, m nettests.Measurer, verdicts ...string) (*Runner, *store.Store, *fakeNetwork, *recorder) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	nw := &fakeNetwork{up: true}
	rec := &recorder{}
	r := &Runner{
		Measurer: m, Connectivity: &fakeConnectivity{verdicts: verdicts}, Network: nw, Skipped: skipped,
		Origin: Origin{ProbeCC: "KZ", ProbeASN: "AS9198"}, Key: priv, Store: st, Enqueue: true,
		Parallelism: 3, Observer: rec, NetworkKey: "net-test",
	}
	return r, st, nw, rec
}

func storedVerdicts(t *testing.T, st *store.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := st.MeasurementsSince(context.Background(), time.Time{}, func(m store.StoredMeasurement) error {
		s, err := report.Verify(m.Line)
		if err != nil {
			return fmt.Errorf("stored line does not verify: %w", err)
		}
		var meas struct {
			Input    *string `json:"input"`
			TestName string  `json:"test_name"`
			TestKeys struct {
				Verdict string `json:"verdict"`
				Method  string `json:"method"`
				Reason  string `json:"reason"`
			} `json:"test_keys"`
		}
		if err := json.Unmarshal(s.Measurement, &meas); err != nil {
			return err
		}
		key := meas.TestName
		if meas.Input != nil {
			key = *meas.Input
		}
		var parts []string
		for _, p := range []string{meas.TestKeys.Verdict, meas.TestKeys.Method, meas.TestKeys.Reason} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		if out[key] != "" {
			out[key] += " "
		}
		out[key] += strings.Join(parts, " ")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var inputs = []string{"https://ok.example/", "https://blocked-tcp_timeout.example/", "https://blocked-dns_nxdomain.example/",
	"https://down.example/", "https://blocked-tcp_timeout2.example/", "https://intermittent-tls_reset.example/"}

func TestRunOnline(t *testing.T) {
	m := &fakeURLs{}
	r, st, nw, rec := newTestRunner(t, m, nettests.NetworkOnline, nettests.NetworkOnline)
	drained := 0
	r.Drain = func(context.Context) error { drained++; return nil }
	sum, err := r.Run(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	got := storedVerdicts(t, st)
	want := map[string]string{
		"connectivity":                            "online online",
		"https://ok.example/":                     "ok",
		"https://blocked-tcp_timeout.example/":    "blocked tcp.timeout",
		"https://blocked-dns_nxdomain.example/":   "blocked dns.nxdomain",
		"https://down.example/":                   "down",
		"https://blocked-tcp_timeout2.example/":   "blocked tcp.timeout2",
		"https://intermittent-tls_reset.example/": "intermittent tls.reset",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stored:\n%v\nwant\n%v", got, want)
	}
	if sum.NetworkVerdict != "online" || sum.NetworkVerdictAfter != "online" || sum.Measurements != 8 {
		t.Errorf("summary %+v", sum)
	}
	if sum.URLs["blocked"] != 3 || sum.URLs["ok"] != 1 || sum.URLs["down"] != 1 || sum.URLs["intermittent"] != 1 || sum.URLs["inconclusive"] != 0 {
		t.Errorf("counts %v", sum.URLs)
	}
	if fmt.Sprint(sum.Blocked) != "map[dns.nxdomain:[https://blocked-dns_nxdomain.example/] tcp.timeout:[https://blocked-tcp_timeout.example/] tcp.timeout2:[https://blocked-tcp_timeout2.example/]]" {
		t.Errorf("blocked %v", sum.Blocked)
	}
	if drained != 1 || !sum.Uploaded {
		t.Errorf("drained %d times, uploaded %v", drained, sum.Uploaded)
	}
	if fmt.Sprint(nw.observed) != "[online online]" {
		t.Errorf("network status fed %v", nw.observed)
	}
	hist, _ := st.ConnectivityHistory(context.Background(), time.Time{})
	if len(hist) != 2 || hist[0].NetworkKey != "net-test" || hist[0].Verdict != "online" {
		t.Errorf("history %+v", hist)
	}
	qs, _ := st.QueueStats(context.Background())
	if qs.Pending != 8 {
		t.Errorf("queued %d, want every measurement (8)", qs.Pending)
	}
	if rec.events[0] != "phase connectivity_before" || rec.events[2] != "planned 6" || rec.events[len(rec.events)-1] != "phase upload" {
		t.Errorf("events %v", rec.events)
	}
	run, ms, err := st.Run(context.Background(), sum.RunID)
	if err != nil || len(ms) != 8 || !strings.Contains(string(run.Summary), `"network_verdict":"online"`) {
		t.Errorf("stored run %+v, %d measurements, %v", run, len(ms), err)
	}
}

func TestRunShutdownBeforeSkipsURLs(t *testing.T) {
	for _, verdict := range []string{nettests.NetworkFullShutdown, nettests.NetworkLocalFailure} {
		t.Run(verdict, func(t *testing.T) {
			m := &fakeURLs{}
			r, st, _, _ := newTestRunner(t, m, verdict)
			drained := 0
			r.Drain = func(context.Context) error { drained++; return nil }
			sum, err := r.Run(context.Background(), inputs)
			if err != nil {
				t.Fatal(err)
			}
			if m.calls.Load() != 0 {
				t.Errorf("measured %d URLs during %s, want none", m.calls.Load(), verdict)
			}
			got := storedVerdicts(t, st)
			if len(got) != len(inputs)+1 {
				t.Fatalf("stored %v", got)
			}
			for _, in := range inputs {
				if got[in] != "inconclusive "+verdict {
					t.Errorf("%s stored as %q, want inconclusive with reason %s", in, got[in], verdict)
				}
			}
			if sum.URLs["inconclusive"] != len(inputs) || sum.NetworkVerdictAfter != "" || drained != 0 {
				t.Errorf("summary %+v, drained %d", sum, drained)
			}
		})
	}
}

func TestRunShutdownAfterMarksHeldResults(t *testing.T) {
	m := &fakeURLs{}
	r, st, nw, _ := newTestRunner(t, m, nettests.NetworkOnline, nettests.NetworkFullShutdown)
	nw.up = false // canaries silent: nothing is confirmed during the run
	r.ConfirmEvery = time.Nanosecond
	// An inconclusive URL takes the network's reason too (nettests.GateURL).
	all := append(append([]string{}, inputs...), "https://inconclusive.example/")
	sum, err := r.Run(context.Background(), all)
	if err != nil {
		t.Fatal(err)
	}
	got := storedVerdicts(t, st)
	for _, in := range all {
		want := "inconclusive full_shutdown"
		if in == "https://ok.example/" {
			want = "ok" // a page that loaded did load
		}
		if got[in] != want {
			t.Errorf("%s stored as %q, want %q", in, got[in], want)
		}
	}
	if sum.URLs["inconclusive"] != 6 || sum.URLs["ok"] != 1 || len(sum.Blocked) != 0 {
		t.Errorf("summary %+v", sum.URLs)
	}
}

func TestRunConfirmedResultsSurviveALaterShutdown(t *testing.T) {
	m := &fakeURLs{}
	r, st, _, rec := newTestRunner(t, m, nettests.NetworkOnline, nettests.NetworkFullShutdown)
	r.ConfirmEvery = time.Nanosecond // canaries up: confirm after every result
	r.Parallelism = 1
	if _, err := r.Run(context.Background(), inputs); err != nil {
		t.Fatal(err)
	}
	got := storedVerdicts(t, st)
	if got["https://blocked-tcp_timeout.example/"] != "blocked tcp.timeout" {
		t.Errorf("a result confirmed by canaries was changed by the later check: %q", got["https://blocked-tcp_timeout.example/"])
	}
	// With one worker, every result is confirmed by the canaries before the next
	// completes, the last one included.
	if got["https://intermittent-tls_reset.example/"] != "intermittent tls.reset" {
		t.Errorf("the last result: %q", got["https://intermittent-tls_reset.example/"])
	}
	firstSave, afterPhase := -1, -1
	for i, e := range rec.events {
		if firstSave < 0 && strings.HasPrefix(e, "saved web_connectivity") {
			firstSave = i
		}
		if e == "phase connectivity_after" {
			afterPhase = i
		}
	}
	if firstSave < 0 || firstSave > afterPhase {
		t.Errorf("confirmed results must be saved as they complete: %v", rec.events)
	}
}

func TestRunPoolIsBoundedAndConcurrent(t *testing.T) {
	const parallelism = 4
	var inflight, peak atomic.Int32
	full := make(chan struct{})
	var once sync.Once
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound on a hang, not a speed test
	defer cancel()
	m := &fakeURLs{run: func(ctx context.Context, _ string) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		if n == parallelism {
			once.Do(func() { close(full) })
		}
		select { // the first workers wait until the pool is full
		case <-full:
		case <-ctx.Done():
		}
	}}
	r, _, _, _ := newTestRunner(t, m, nettests.NetworkOnline)
	r.Parallelism = parallelism
	var many []string
	for i := range 40 {
		many = append(many, fmt.Sprintf("https://ok.example/%d", i))
	}
	if _, err := r.Run(ctx, many); err != nil {
		t.Fatal(err)
	}
	select {
	case <-full:
	default:
		t.Fatal("the pool never ran", parallelism, "URLs at once")
	}
	if peak.Load() != parallelism || m.calls.Load() != 40 {
		t.Errorf("peak concurrency %d (want %d), %d calls", peak.Load(), parallelism, m.calls.Load())
	}
}

func TestRunScrubsPublicAddress(t *testing.T) {
	m := &fakeURLs{note: "seen from 203.0.113.77 and 2001:db8::77"}
	r, st, _, rec := newTestRunner(t, m, nettests.NetworkOnline)
	r.Origin.Scrub = []string{"203.0.113.77", "2001:db8::77"}
	if _, err := r.Run(context.Background(), []string{"https://ok.example/"}); err != nil {
		t.Fatal(err)
	}
	err := st.MeasurementsSince(context.Background(), time.Time{}, func(m store.StoredMeasurement) error {
		if strings.Contains(string(m.Line), "203.0.113.77") || strings.Contains(string(m.Line), "2001:db8::77") {
			t.Errorf("stored line keeps the public address: %s", m.Line)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range rec.lines {
		if strings.Contains(string(l), "203.0.113.77") {
			t.Errorf("printed line keeps the public address: %s", l)
		}
	}
	if !strings.Contains(string(rec.lines[len(rec.lines)-1]), "seen from [scrubbed]") {
		t.Errorf("scrubbing did not happen where expected: %s", rec.lines[len(rec.lines)-1])
	}
}

func TestRunWithoutConnectivitySavesAsItGoes(t *testing.T) {
	m := &fakeURLs{}
	r, st, _, _ := newTestRunner(t, m)
	r.Connectivity, r.Network = nil, nil
	r.Parallelism = 1
	// With one worker and a results buffer of one, by the time the fourth input is
	// measured the run has received (and so saved) the first result at least: a
	// run without an after-check must not hold results to its end.
	var storedBeforeFourth atomic.Int32
	storedBeforeFourth.Store(-1)
	m.run = func(_ context.Context, in string) {
		if in == inputs[3] {
			n := 0
			_ = st.MeasurementsSince(context.Background(), time.Time{}, func(store.StoredMeasurement) error { n++; return nil })
			storedBeforeFourth.Store(int32(n))
		}
	}
	var saved atomic.Int32
	r.Observer = observerFunc(func() { saved.Add(1) })
	sum, err := r.Run(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	if n := storedBeforeFourth.Load(); n < 1 {
		t.Errorf("%d measurements stored when the fourth input started, want at least 1", n)
	}
	if sum.NetworkVerdict != "" || sum.Measurements != len(inputs) || int(saved.Load()) != len(inputs) {
		t.Errorf("summary %+v, saved %d", sum, saved.Load())
	}
	b, _ := json.Marshal(sum)
	if !strings.Contains(string(b), `"network_verdict":null`) {
		t.Errorf("unknown verdict must be null: %s", b)
	}
}

type observerFunc func()

func (observerFunc) Phase(string)                        {}
func (observerFunc) Planned(int)                         {}
func (observerFunc) Completed(string)                    {}
func (f observerFunc) Saved(*report.Measurement, []byte) { f() }

func TestRunBadInputIsAnError(t *testing.T) {
	r, st, _, _ := newTestRunner(t, &fakeURLs{}, nettests.NetworkOnline)
	_, err := r.Run(context.Background(), []string{"https://ok.example/", "ftp://nope/"})
	if err == nil || !strings.Contains(err.Error(), `"ftp://nope/"`) {
		t.Fatalf("err = %v, want the bad input named", err)
	}
	if got := storedVerdicts(t, st); got["https://ok.example/"] != "ok" {
		t.Errorf("the good input must still be stored: %v", got)
	}
}

func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	m := &fakeURLs{}
	m.run = func(c context.Context, in string) {
		if in == inputs[2] {
			cancel()
		}
	}
	r, st, _, _ := newTestRunner(t, m, nettests.NetworkOnline, nettests.NetworkOnline)
	r.Parallelism = 1
	sum, err := r.Run(ctx, inputs)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	got := storedVerdicts(t, st)
	if got[inputs[1]] != "inconclusive network_unknown" || got[inputs[0]] != "ok" {
		t.Errorf("held results of an interrupted run: %v", got)
	}
	if _, ok := got[inputs[3]]; ok || sum.NetworkVerdictAfter != "" {
		t.Errorf("inputs after the interrupt must not be measured: %v, after %q", got, sum.NetworkVerdictAfter)
	}
}

func TestRunRefreshesInputsOnlyWhenOnline(t *testing.T) {
	for _, verdict := range []string{nettests.NetworkOnline, nettests.NetworkFullShutdown, nettests.NetworkWhitelist} {
		m := &fakeURLs{}
		r, st, _, _ := newTestRunner(t, m, verdict)
		asked := 0
		r.Refresh = func(context.Context) ([]string, error) {
			asked++
			return []string{"https://down.example/"}, nil
		}
		if _, err := r.Run(context.Background(), []string{"https://ok.example/"}); err != nil {
			t.Fatal(err)
		}
		got := storedVerdicts(t, st)
		if verdict == nettests.NetworkOnline && (asked != 1 || got["https://down.example/"] != "down" || got["https://ok.example/"] != "") {
			t.Errorf("online: asked %d, stored %v: want the fresh list measured instead", asked, got)
		}
		if verdict != nettests.NetworkOnline && (asked != 0 || got["https://ok.example/"] == "") {
			t.Errorf("shutdown: asked %d, stored %v: want the given list, no refresh", asked, got)
		}
	}
}

// cancelAt cancels the run when the n-th input completes.
type cancelAt struct {
	*recorder
	n, seen int
	cancel  context.CancelFunc
}

func (c *cancelAt) Completed(in string) {
	c.recorder.Completed(in)
	if c.seen++; c.seen == c.n {
		c.cancel()
	}
}

func TestRunInterruptedWhileSkipping(t *testing.T) {
	// A shutdown before the inputs: 10,000 are recorded as skipped, one save
	// each. A signal after the 100th must stop the loop there, keeping the 100.
	many := make([]string, 10_000)
	for i := range many {
		many[i] = fmt.Sprintf("https://site%d.example/", i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &fakeURLs{}
	r, st, _, rec := newTestRunner(t, m, nettests.NetworkFullShutdown)
	r.Observer = &cancelAt{recorder: rec, n: 100, cancel: cancel}
	_, err := r.Run(ctx, many)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	got := storedVerdicts(t, st) // every stored line verifies
	if len(got) != 100+1 {       // and the connectivity check
		t.Fatalf("stored %d measurements, want the 100 skipped before the signal and the check", len(got))
	}
	for _, in := range many[:100] {
		if got[in] != "inconclusive "+nettests.NetworkFullShutdown {
			t.Errorf("%s stored as %q", in, got[in])
		}
	}
}
