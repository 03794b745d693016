package runner

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/connectivity"
	"github.com/vantage-probe/vantage/probe/history"
	"github.com/vantage-probe/vantage/probe/netx"
)

// cannedConnectivity returns real connectivity test keys, as the nettest would.
type cannedConnectivity struct{}

func (cannedConnectivity) Name() string    { return connectivity.Name }
func (cannedConnectivity) Version() string { return connectivity.Version }
func (cannedConnectivity) Run(context.Context, string, *netx.Trace) (any, error) {
	tk := &connectivity.TestKeys{Events: netx.Events{}}
	tk.Verdict, tk.Reason = nettests.NetworkWhitelist, "foreign_silent"
	tk.Ratios = map[string]map[string]connectivity.Tally{connectivity.ClassDomestic: {connectivity.ProtoTCP: {OK: 4, Attempts: 4}}}
	tk.Local.FirstHop.TCPAnswered = true
	return tk, nil
}

// TestRunAndCheckWriteOneHistoryShape: the checks around a run and `vantage check`
// keep their verdicts through one writer; one reader gets the same fields back
// from both, the network key included.
func TestRunAndCheckWriteOneHistoryShape(t *testing.T) {
	r, st, _, _ := newTestRunner(t, &fakeURLs{})
	r.Connectivity = cannedConnectivity{}
	if _, err := r.Run(context.Background(), []string{"https://ok.example/"}); err != nil {
		t.Fatal(err)
	}
	c := &Check{Connectivity: cannedConnectivity{}, Origin: r.Origin, NetworkKey: r.NetworkKey, History: st}
	res, err := c.Run(context.Background())
	if err != nil || res.HistoryErr != nil {
		t.Fatalf("check: %v, history %v", err, res.HistoryErr)
	}
	entries, err := history.Read(context.Background(), st, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var phases []string
	for _, e := range entries {
		phases = append(phases, e.Evidence.Phase)
		ev := e.Evidence
		if e.Verdict != nettests.NetworkWhitelist || e.NetworkKey != "net-test" || e.ProbeCC != "KZ" || e.ProbeASN != "AS9198" ||
			ev.MeasurementUID == "" || ev.Reason != "foreign_silent" || !ev.FirstHopAlive ||
			ev.Ratios[connectivity.ClassDomestic][connectivity.ProtoTCP] != (connectivity.Tally{OK: 4, Attempts: 4}) {
			t.Errorf("entry %+v", e)
		}
	}
	if strings.Join(phases, " ") != "connectivity_before connectivity_after check" {
		t.Errorf("phases %v", phases)
	}
	// The stored JSON has the same keys whichever command wrote it.
	recs, _ := st.ConnectivityHistory(context.Background(), time.Time{})
	var shapes []string
	for _, rec := range recs {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(rec.Evidence, &m); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		shapes = append(shapes, strings.Join(keys, ","))
	}
	if len(shapes) != 3 || shapes[0] != shapes[2] || shapes[1] != shapes[2] {
		t.Errorf("evidence shapes differ: %q", shapes)
	}
}

// TestCheckInterrupted: a check cut short is neither a verdict nor kept.
func TestCheckInterrupted(t *testing.T) {
	_, st, _, _ := newTestRunner(t, &fakeURLs{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&Check{Connectivity: cannedConnectivity{}, History: st}).Run(ctx); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err = %v", err)
	}
	if recs, _ := st.ConnectivityHistory(context.Background(), time.Time{}); len(recs) != 0 {
		t.Fatalf("kept %d records", len(recs))
	}
}
