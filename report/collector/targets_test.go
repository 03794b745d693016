package collector_test

import (
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
)

func TestTargetsServedAsJSON(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(dir+"/tor.json", `{"targets":[]}`); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(dir+"/signal.json", `{"targets":`); err != nil {
		t.Fatal(err)
	}
	asked := ""
	next := func(name string) ([]byte, error) {
		asked = name
		if name == "whatsapp" {
			return []byte(`{"from":"next"}`), nil
		}
		if name == "telegram" {
			return nil, errors.New("disk on fire")
		}
		return nil, collector.ErrNoTargets
	}
	c := collectortest.NewWithConfig(t, collectortest.SQLite, collector.Config{Targets: collector.DirTargets(dir, next)})
	get := func(name string) (int, string, string) {
		t.Helper()
		resp, err := http.Get(c.URL + "/api/v1/targets/" + name)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	if code, ct, body := get("tor"); code != 200 || ct != "application/json" || body != `{"targets":[]}` {
		t.Errorf("tor from the directory: %d %q %q", code, ct, body)
	}
	if code, _, body := get("whatsapp"); code != 200 || body != `{"from":"next"}` || asked != "whatsapp" {
		t.Errorf("whatsapp from next: %d %q (asked %q)", code, body, asked)
	}
	// A file that is not JSON is not served; nor is next's failure.
	for _, name := range []string{"signal", "telegram"} {
		if code, _, body := get(name); code != 500 {
			t.Errorf("%s: %d %q, want 500", name, code, body)
		}
	}
	var a struct {
		Param string `json:"param"`
	}
	for name, want := range map[string]int{"web_connectivity": 404, "Tor": 400, "a%2Fb": 400, "%2E%2E": 400} {
		a.Param = ""
		if code := getJSON(t, c.URL+"/api/v1/targets/"+name, &a); code != want || (want == 400 && a.Param != "nettest") {
			t.Errorf("%s: %d (param %q), want %d", name, code, a.Param, want)
		}
	}
	// A collector given no target lists answers 404 for every nettest.
	bare := collectortest.New(t, collectortest.SQLite)
	if code := getJSON(t, bare.URL+"/api/v1/targets/tor", &a); code != 404 {
		t.Errorf("no target lists: %d", code)
	}
}
