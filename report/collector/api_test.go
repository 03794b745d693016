package collector_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/testlists"
)

// sample is one stored test measurement and what the API should say about it.
type sample struct {
	spec  collectortest.Spec
	uid   string
	probe string
	line  []byte
}

// fill uploads a small January 2022 story: connectivity verdicts for two Kazakh
// networks, per-URL verdicts, and a Russian measurement. Every start time is
// distinct, so the newest-first order is fully determined by the specs.
func fill(t *testing.T, c *collectortest.Collector) []sample {
	t.Helper()
	probes := []*collectortest.Probe{collectortest.NewProbe(t), collectortest.NewProbe(t), collectortest.NewProbe(t)}
	story := []string{"online", "full_shutdown", "full_shutdown", "partial_shutdown", "whitelist", "online"}
	var specs []collectortest.Spec
	for day, v := range story {
		at := t0.Add(time.Duration(day) * 24 * time.Hour)
		specs = append(specs,
			spec("KZ", "AS9198", "connectivity", "", v, "", at),
			spec("KZ", "AS48503", "connectivity", "", v, "", at.Add(time.Minute)),
			spec("KZ", "AS9198", "web_connectivity", "https://blocked.example/news?id=1", "blocked", "dns.nxdomain", at.Add(2*time.Minute)),
			spec("KZ", "AS9198", "web_connectivity", "https://Mitm.Example:8443/", "blocked", "tls.mitm", at.Add(3*time.Minute)),
			spec("KZ", "AS48503", "web_connectivity", "https://ok.example/", "ok", "", at.Add(4*time.Minute)),
		)
	}
	specs = append(specs, spec("RU", "AS12389", "web_connectivity", "https://blocked.example/", "blocked", "tls.reset", t0.Add(-time.Hour)))
	var out []sample
	var lines [][]byte
	for i, s := range specs {
		p := probes[i%len(probes)]
		line := p.SignSpec(t, s)
		sig, err := report.Verify(line)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sample{spec: s, uid: sig.MeasurementUID, probe: p.ID, line: line})
		lines = append(lines, line)
	}
	if status, a := post(t, c, "application/x-ndjson", ndjson(lines...)); status != 200 || a.Stored != len(specs) {
		t.Fatalf("fill: %d %+v", status, a)
	}
	return out
}

func domainOfSpec(s collectortest.Spec) string {
	u, err := url.Parse(s.Input)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// newestFirst returns the uids of the samples that match, newest first.
func newestFirst(samples []sample, match func(sample) bool) []string {
	var m []sample
	for _, s := range samples {
		if match(s) {
			m = append(m, s)
		}
	}
	sort.Slice(m, func(i, j int) bool { return m[i].spec.Start.After(m[j].spec.Start) })
	uids := []string{}
	for _, s := range m {
		uids = append(uids, s.uid)
	}
	return uids
}

type listAnswer struct {
	Results []struct {
		UID     string  `json:"measurement_uid"`
		ProbeID string  `json:"probe_id"`
		Domain  *string `json:"domain"`
		Verdict *string `json:"verdict"`
		Method  *string `json:"method"`
		URL     string  `json:"measurement_url"`
	} `json:"results"`
	NextCursor *string `json:"next_cursor"`
	Error      string  `json:"error"`
	Param      string  `json:"param"`
}

func getJSON(t *testing.T, u string, v any) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("GET %s: %d, not JSON: %q", u, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

// listAll follows the cursor through every page.
func listAll(t *testing.T, c *collectortest.Collector, params url.Values, limit int) []string {
	t.Helper()
	uids := []string{}
	params.Set("limit", fmt.Sprint(limit))
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("pagination does not end")
		}
		var a listAnswer
		if status := getJSON(t, c.URL+"/api/v1/measurements?"+params.Encode(), &a); status != 200 {
			t.Fatalf("list %v: %d %s", params, status, a.Error)
		}
		if len(a.Results) > limit {
			t.Fatalf("page of %d rows, limit %d", len(a.Results), limit)
		}
		for _, r := range a.Results {
			uids = append(uids, r.UID)
		}
		if a.NextCursor == nil {
			return uids
		}
		params.Set("cursor", *a.NextCursor)
	}
}

func TestListFiltersAndPages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		c := collectortest.New(t, backend)
		samples := fill(t, c)
		day2 := t0.Add(48 * time.Hour)
		cases := []struct {
			params string
			match  func(sample) bool
		}{
			{"", func(sample) bool { return true }},
			{"probe_cc=kz", func(s sample) bool { return s.spec.CC == "KZ" }},
			{"probe_asn=48503", func(s sample) bool { return s.spec.ASN == "AS48503" }},
			{"probe_asn=AS9198&test_name=connectivity", func(s sample) bool { return s.spec.ASN == "AS9198" && s.spec.TestName == "connectivity" }},
			{"verdict=full_shutdown", func(s sample) bool { return s.spec.Verdict == "full_shutdown" }},
			{"method=tls.mitm", func(s sample) bool { return s.spec.Method == "tls.mitm" }},
			{"domain=BLOCKED.example", func(s sample) bool { return domainOfSpec(s.spec) == "blocked.example" }},
			{"domain=mitm.example", func(s sample) bool { return domainOfSpec(s.spec) == "mitm.example" }},
			{"input=" + url.QueryEscape("https://blocked.example/news?id=1"), func(s sample) bool { return s.spec.Input == "https://blocked.example/news?id=1" }},
			{"since=" + day2.Format(time.RFC3339), func(s sample) bool { return !s.spec.Start.Before(day2) }},
			{"since=2022-01-06&until=2022-01-08", func(s sample) bool {
				return !s.spec.Start.Before(t0.Add(14*time.Hour)) && s.spec.Start.Before(t0.Add(62*time.Hour))
			}},
			{"probe_id=" + samples[1].probe, func(s sample) bool { return s.probe == samples[1].probe }},
			// SQL-looking and path-looking values are plain values that match nothing.
			{"input=" + url.QueryEscape("' OR '1'='1"), func(sample) bool { return false }},
			{"domain=" + url.QueryEscape("../../etc/passwd"), func(sample) bool { return false }},
			{"verdict=" + url.QueryEscape("ok; DROP TABLE measurements; --"), func(sample) bool { return false }},
		}
		for _, tc := range cases {
			want := newestFirst(samples, tc.match)
			params, err := url.ParseQuery(tc.params)
			if err != nil {
				t.Fatal(err)
			}
			for _, limit := range []int{1000, 4} {
				if got := listAll(t, c, params, limit); !slices.Equal(got, want) {
					t.Errorf("%q limit %d:\n got %v\nwant %v", tc.params, limit, got, want)
				}
				params.Del("cursor")
			}
		}
		if len(newestFirst(samples, func(sample) bool { return true })) != 31 {
			t.Fatal("fixture changed: update the expectations")
		}
		// The table is still there after the SQL-looking values.
		if got := listAll(t, c, url.Values{}, 1000); len(got) != len(samples) {
			t.Fatalf("after the injection attempts the store lists %d measurements, want %d", len(got), len(samples))
		}
	})
}

func TestListRowFields(t *testing.T) {
	c := collectortest.New(t, collectortest.SQLite)
	samples := fill(t, c)
	var a listAnswer
	getJSON(t, c.URL+"/api/v1/measurements?method=tls.mitm&limit=1", &a)
	if len(a.Results) != 1 {
		t.Fatalf("got %d rows", len(a.Results))
	}
	r := a.Results[0]
	want := newestFirst(samples, func(s sample) bool { return s.spec.Method == "tls.mitm" })[0]
	if r.UID != want || *r.Domain != "mitm.example" || *r.Verdict != "blocked" || *r.Method != "tls.mitm" {
		t.Errorf("row %+v", r)
	}
	// measurement_url fetches the exact signed line.
	var line []byte
	for _, s := range samples {
		if s.uid == r.UID {
			line = s.line
		}
	}
	if got := getBody(t, c.URL+r.URL, 200); !bytes.Equal(got, line) {
		t.Errorf("measurement_url serves other bytes")
	}
	a = listAnswer{}
	getJSON(t, c.URL+"/api/v1/measurements?test_name=connectivity&limit=1", &a)
	if a.Results[0].Domain != nil || a.Results[0].Method != nil {
		t.Errorf("connectivity row has a domain or method: %+v", a.Results[0])
	}
}

func TestBadParametersAre400NamingThem(t *testing.T) {
	c := collectortest.New(t, collectortest.SQLite)
	fill(t, c)
	cases := []struct{ path, param string }{
		{"/api/v1/measurements?probe_cc=KAZ", "probe_cc"},
		{"/api/v1/measurements?probe_cc=" + url.QueryEscape("' OR 1=1"), "probe_cc"},
		{"/api/v1/measurements?probe_asn=ASx", "probe_asn"},
		{"/api/v1/measurements?since=yesterday", "since"},
		{"/api/v1/measurements?since=2022-01-05&until=2022-01-04", "until"},
		{"/api/v1/measurements?limit=0", "limit"},
		{"/api/v1/measurements?limit=1001", "limit"},
		{"/api/v1/measurements?limit=ten", "limit"},
		{"/api/v1/measurements?cursor=garbage", "cursor"},
		{"/api/v1/measurements?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("v1.x.y")), "cursor"},
		{"/api/v1/measurements?country=KZ", "country"},
		{"/api/v1/measurements?probe_cc=KZ&probe_cc=RU", "probe_cc"},
		{"/api/v1/measurements?input=%ff", "input"},
		{"/api/v1/export?limit=5", "limit"},
		{"/api/v1/aggregate?by=day,password", "by"},
		{"/api/v1/aggregate?by=day,day", "by"},
		{"/api/v1/aggregate?order=random", "order"},
		{"/api/v1/measurements/" + url.PathEscape("x' OR '1"), "uid"},
		{"/api/v1/probes/" + url.PathEscape("../../etc/passwd"), "id"},
		{"/api/v1/testlists/" + url.PathEscape("../../etc/passwd"), "cc"},
	}
	for _, tc := range cases {
		var a listAnswer
		if status := getJSON(t, c.URL+tc.path, &a); status != 400 || a.Param != tc.param || a.Error == "" {
			t.Errorf("GET %s: %d param %q (%s), want 400 naming %q", tc.path, status, a.Param, a.Error, tc.param)
		}
	}
	var a listAnswer
	if status := getJSON(t, c.URL+"/api/v1/measurements/20220105100000.000000_KZ_x_00", &a); status != 404 {
		t.Errorf("unknown uid: %d", status)
	}
	if status := getJSON(t, c.URL+"/api/v1/nothing", &a); status != 404 {
		t.Errorf("unknown endpoint: %d", status)
	}
}

func TestExportStreamsSignedLinesOldestFirst(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		c := collectortest.New(t, backend)
		samples := fill(t, c)
		for _, gz := range []bool{false, true} {
			req, _ := http.NewRequest(http.MethodGet, c.URL+"/api/v1/export?probe_cc=KZ&verdict=blocked", nil)
			if gz {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			// A transport that leaves the body compressed, to see what was sent.
			resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			var body io.Reader = resp.Body
			if gz {
				if resp.Header.Get("Content-Encoding") != "gzip" {
					t.Fatalf("asked for gzip, got Content-Encoding %q", resp.Header.Get("Content-Encoding"))
				}
				zr, err := gzip.NewReader(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = zr
			} else if resp.Header.Get("Content-Encoding") != "" {
				t.Fatalf("did not ask for gzip, got %q", resp.Header.Get("Content-Encoding"))
			}
			got, err := io.ReadAll(body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			want := newestFirst(samples, func(s sample) bool { return s.spec.CC == "KZ" && s.spec.Verdict == "blocked" })
			slices.Reverse(want)
			var wantBody []byte
			for _, uid := range want {
				for _, s := range samples {
					if s.uid == uid {
						wantBody = append(append(wantBody, s.line...), '\n')
					}
				}
			}
			if !bytes.Equal(got, wantBody) {
				t.Errorf("gzip=%v: export differs:\n got %d bytes\nwant %d bytes", gz, len(got), len(wantBody))
			}
			if st := resp.Trailer.Get(collector.ExportTrailer); st != fmt.Sprintf("complete; count=%d", len(want)) {
				t.Errorf("gzip=%v: trailer %q", gz, st)
			}
		}
	})
}

func TestAggregateCountsByDayASNVerdict(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		c := collectortest.New(t, backend)
		samples := fill(t, c)
		var a struct {
			By      []string         `json:"by"`
			Results []map[string]any `json:"results"`
		}
		if status := getJSON(t, c.URL+"/api/v1/aggregate?probe_cc=KZ&test_name=connectivity", &a); status != 200 {
			t.Fatalf("aggregate: %d", status)
		}
		want := map[string]float64{}
		for _, s := range samples {
			if s.spec.CC == "KZ" && s.spec.TestName == "connectivity" {
				want[s.spec.Start.Format("2006-01-02")+" "+s.spec.ASN+" "+s.spec.Verdict]++
			}
		}
		got := map[string]float64{}
		for _, r := range a.Results {
			got[fmt.Sprintf("%v %v %v", r["day"], r["probe_asn"], r["verdict"])] += r["count"].(float64)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || !slices.Equal(a.By, []string{"day", "probe_asn", "verdict"}) {
			t.Errorf("aggregate by %v:\n got %v\nwant %v", a.By, got, want)
		}
		// Most-blocked domains by method, biggest first.
		a.Results = nil
		getJSON(t, c.URL+"/api/v1/aggregate?verdict=blocked&by=domain,method&order=count", &a)
		if len(a.Results) != 3 || a.Results[0]["count"].(float64) != 6 || a.Results[2]["count"].(float64) != 1 ||
			a.Results[2]["method"] != "tls.reset" {
			t.Errorf("blocked domains: %v", a.Results)
		}
	})
}

func TestProbeKeyIsPinnedOnFirstUse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		c := collectortest.New(t, backend)
		p := collectortest.NewProbe(t)
		var a struct {
			ProbeID   string `json:"probe_id"`
			PublicKey string `json:"public_key"`
		}
		if status := getJSON(t, c.URL+"/api/v1/probes/"+p.ID, &a); status != 404 {
			t.Fatalf("unknown probe: %d", status)
		}
		post(t, c, "application/json", p.SignSpec(t, webSpec("https://a.example/", t0)))
		if status := getJSON(t, c.URL+"/api/v1/probes/"+p.ID, &a); status != 200 {
			t.Fatalf("known probe: %d", status)
		}
		pub := base64.StdEncoding.EncodeToString(p.Private.Public().(ed25519.PublicKey))
		if a.ProbeID != p.ID || a.PublicKey != pub {
			t.Errorf("probe answer %+v", a)
		}
	})
}

func TestTestListsServedAsCSV(t *testing.T) {
	dir := t.TempDir()
	custom := "url,category_code,category_description,date_added,source,notes\nhttps://custom.example/,NEWS,News Media,2022-01-05,test,\n"
	if err := writeFile(dir+"/kz.csv", custom); err != nil {
		t.Fatal(err)
	}
	c := collectortest.NewWithConfig(t, collectortest.SQLite, collector.Config{
		TestLists: collector.DirTestLists(dir, collector.EmbeddedTestLists),
	})
	resp, err := http.Get(c.URL + "/api/v1/testlists/KZ")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || string(body) != custom {
		t.Errorf("kz from the directory: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	// global is not in the directory: the embedded list, round-tripped through CSV.
	entries, err := testlists.Fetch(context.Background(), nil, c.URL, "global")
	if err != nil {
		t.Fatal(err)
	}
	embedded, _, _ := testlists.Embedded("global")
	if len(entries) == 0 || len(entries) != len(embedded) || entries[0] != embedded[0] {
		t.Errorf("global: fetched %d entries, embedded %d", len(entries), len(embedded))
	}
	var a listAnswer
	if status := getJSON(t, c.URL+"/api/v1/testlists/xx", &a); status != 404 {
		t.Errorf("missing country: %d", status)
	}
}
