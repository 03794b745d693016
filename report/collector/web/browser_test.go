//go:build unix

package web_test

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/collector/collectortest"
)

// ScreenshotPath is where the browser test leaves its picture of the page (see
// docs/collector.md).
const screenshotPath = "testdata/screenshot.png"

// pageLoadTimeout bounds the wait for the page to render from the local collector.
const pageLoadTimeout = 30 * time.Second

var day0 = time.Date(2022, 1, 3, 12, 0, 0, 0, time.UTC)

// story uploads Kazakhstan, January 2022 in miniature: AS9198 and AS48503 go from
// online to full shutdown, partial shutdown, allowlist and back; AS21299 stays
// partly up for five days; a few URLs are blocked; one Russian measurement.
func story(t *testing.T, c *collectortest.Collector) {
	t.Helper()
	days := []string{"online", "online", "full_shutdown", "full_shutdown", "partial_shutdown", "whitelist", "whitelist", "online"}
	p := collectortest.NewProbe(t)
	var lines [][]byte
	add := func(s collectortest.Spec) { lines = append(lines, p.SignSpec(t, s)) }
	conn := func(cc, asn, verdict string, at time.Time) collectortest.Spec {
		return collectortest.Spec{CC: cc, ASN: asn, TestName: "connectivity", Start: at, Verdict: verdict}
	}
	for d, v := range days {
		at := day0.Add(time.Duration(d) * 24 * time.Hour)
		for i := range 3 {
			add(conn("KZ", "AS9198", v, at.Add(time.Duration(i)*time.Hour)))
			add(conn("KZ", "AS48503", v, at.Add(time.Duration(i)*time.Hour+time.Minute)))
		}
		if d < 5 {
			add(conn("KZ", "AS21299", "partial_shutdown", at))
			add(conn("KZ", "AS21299", "online", at.Add(time.Hour)))
			add(conn("KZ", "AS21299", "online", at.Add(2*time.Hour)))
		}
		add(collectortest.Spec{CC: "KZ", ASN: "AS9198", TestName: "web_connectivity", Input: "https://www.bbc.com/news",
			Start: at.Add(5 * time.Hour), Verdict: "blocked", Method: "tls.timeout"})
		add(collectortest.Spec{CC: "KZ", ASN: "AS48503", TestName: "web_connectivity", Input: "https://twitter.com/",
			Start: at.Add(6 * time.Hour), Verdict: "blocked", Method: "dns.nxdomain"})
	}
	add(conn("RU", "AS12389", "online", day0))
	req, _ := http.NewRequest(http.MethodPost, c.URL+"/api/v1/measurements", bytes.NewReader(bytes.Join(lines, []byte("\n"))))
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("upload: %s", resp.Status)
	}
}

type timeline struct {
	Label   string `json:"label"`
	Series  int    `json:"series"`
	Buckets int    `json:"buckets"`
}

// colourPixels counts the pixels of the country band's canvas painted in a verdict's
// colour (r, g, b).
const colourPixels = `(() => {
	const c = document.querySelector(".timeline.country canvas");
	const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
	let n = 0;
	for (let i = 0; i < d.length; i += 4) if (d[i] === %d && d[i+1] === %d && d[i+2] === %d) n++;
	return n;
})()`

var (
	fullShutdownRGB = [3]int{0xc0, 0x39, 0x2b}
	onlineRGB       = [3]int{0x3a, 0x9d, 0x48}
)

func pixels(t *testing.T, b *browser, rgb [3]int) int {
	t.Helper()
	var n int
	if err := b.eval(sprintf(colourPixels, rgb[0], rgb[1], rgb[2]), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPageChartsTimelinesAndFollowsFilters(t *testing.T) {
	b := startChromium(t)
	c := collectortest.New(t, collectortest.SQLite)
	story(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), pageLoadTimeout)
	defer cancel()

	if err := b.call("Page.navigate", map[string]any{"url": c.URL + "/"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.waitFor(ctx, `document.body && document.body.dataset.renders === "1"`); err != nil {
		t.Fatal(err)
	}
	var got []timeline
	if err := b.eval(`window.vantage.timelines`, &got); err != nil {
		t.Fatal(err)
	}
	// Country band first, then one band per network, six verdict series each; the
	// default country is the one with the most measurements.
	want := map[string]int{"KZ (all networks)": 8, "AS9198": 8, "AS48503": 8, "AS21299": 5}
	if len(got) != len(want) {
		t.Fatalf("timelines %+v, want %v", got, want)
	}
	for _, tl := range got {
		if want[tl.Label] != tl.Buckets || tl.Series != 6 {
			t.Errorf("timeline %+v: want %d buckets and 6 series", tl, want[tl.Label])
		}
	}
	var canvases, blockedRows int
	b.eval(`document.querySelectorAll("#timelines canvas").length`, &canvases)
	b.eval(`document.querySelectorAll("#blocked tbody tr").length`, &blockedRows)
	if canvases != 4 || blockedRows != 2 {
		t.Errorf("%d canvases (want 4), %d blocked-domain rows (want 2)", canvases, blockedRows)
	}
	if n := pixels(t, b, fullShutdownRGB); n == 0 {
		t.Errorf("the country band shows no full_shutdown colour")
	}
	if err := b.screenshot(filepath.FromSlash(screenshotPath)); err != nil {
		t.Fatal(err)
	}

	// Filter on the network that never shut down: one network band, no red.
	if err := b.eval(`(() => { const s = document.getElementById("f-asn"); s.value = "AS21299";
		s.dispatchEvent(new Event("change")); return true })()`, new(bool)); err != nil {
		t.Fatal(err)
	}
	if err := b.waitFor(ctx, `document.body.dataset.renders === "2"`); err != nil {
		t.Fatal(err)
	}
	got = nil
	b.eval(`window.vantage.timelines`, &got)
	if len(got) != 2 || got[1].Label != "AS21299" || got[1].Buckets != 5 {
		t.Errorf("after filtering on AS21299: %+v", got)
	}
	if n := pixels(t, b, fullShutdownRGB); n != 0 {
		t.Errorf("AS21299 never shut down, yet %d full_shutdown pixels", n)
	}
	if n := pixels(t, b, onlineRGB); n == 0 {
		t.Errorf("AS21299 was online, yet no online pixels")
	}
	b.eval(`document.querySelectorAll("#blocked tbody tr").length`, &blockedRows)
	if blockedRows != 0 {
		t.Errorf("AS21299 blocked nothing, yet %d blocked-domain rows", blockedRows)
	}
}
