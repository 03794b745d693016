//go:build unix

package web_test

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
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
// partly up for five days; a few URLs are blocked; one Russian measurement. The
// services: on AS9198 WhatsApp is ok, then blocked, inconclusive while the network
// is shut down, degraded after, and Tor blocked throughout; Telegram is ok on
// AS48503; encrypted DNS degraded on AS21299.
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
	whatsapp := []string{"ok", "blocked", "inconclusive", "inconclusive", "degraded", "degraded", "degraded", "ok"}
	for d := range days {
		at := day0.Add(time.Duration(d)*24*time.Hour + 3*time.Hour)
		svc := func(asn, name, verdict string) {
			add(collectortest.Spec{CC: "KZ", ASN: asn, TestName: name, Start: at, Verdict: verdict})
		}
		svc("AS9198", "whatsapp", whatsapp[d])
		svc("AS9198", "tor", "blocked")
		svc("AS48503", "telegram", "ok")
		if d < 5 {
			svc("AS21299", "dnscheck", "degraded")
		}
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

type serviceBand struct {
	Network  string            `json:"network"`
	Service  string            `json:"service"`
	Series   int               `json:"series"`
	Buckets  int               `json:"buckets"`
	Verdicts map[string]string `json:"verdicts"` // bucket start (unix seconds) -> dominant verdict
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

	if err := b.enablePageErrors(); err != nil {
		t.Fatal(err)
	}
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
	b.eval(`document.querySelectorAll("#timelines .timeline:not(.service) canvas").length`, &canvases)
	b.eval(`document.querySelectorAll("#blocked tbody tr").length`, &blockedRows)
	if canvases != 4 || blockedRows != 2 {
		t.Errorf("%d canvases (want 4), %d blocked-domain rows (want 2)", canvases, blockedRows)
	}
	if n := pixels(t, b, fullShutdownRGB); n == 0 {
		t.Errorf("the country band shows no full_shutdown colour")
	}
	checkServiceBands(t, b)
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
	var svc []serviceBand
	b.eval(`window.vantage.services`, &svc)
	if len(svc) != 2 || svc[0].Service != "dnscheck" || svc[1].Network != "AS21299" || svc[1].Service != "dnscheck" {
		t.Errorf("after filtering on AS21299, service bands %+v: want dnscheck for the country and AS21299", svc)
	}
	var settled bool
	b.eval(`true`, &settled) // reads the events still queued
	if len(b.pageErrors) != 0 {
		t.Errorf("the page logged errors: %q", b.pageErrors)
	}
}

// checkServiceBands: under each network, one band per service measured there, in
// the page's service order, with the four service verdicts and the dominant
// verdict of each day.
func checkServiceBands(t *testing.T, b *browser) {
	t.Helper()
	var got []serviceBand
	if err := b.eval(`window.vantage.services`, &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"KZ (all networks)/whatsapp", "KZ (all networks)/telegram", "KZ (all networks)/tor",
		"KZ (all networks)/dnscheck", "AS21299/dnscheck", "AS48503/telegram", "AS9198/whatsapp", "AS9198/tor"}
	var names []string
	bands := map[string]serviceBand{}
	for _, s := range got {
		names = append(names, s.Network+"/"+s.Service)
		bands[s.Network+"/"+s.Service] = s
		if s.Series != 4 {
			t.Errorf("%s/%s: %d series, want 4 (ok, degraded, blocked, inconclusive)", s.Network, s.Service, s.Series)
		}
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("service bands %v, want %v", names, want)
	}
	day := func(d int) string {
		return strconv.FormatInt(day0.Truncate(24*time.Hour).Add(time.Duration(d)*24*time.Hour).Unix(), 10)
	}
	wa := bands["AS9198/whatsapp"]
	for d, v := range map[int]string{0: "ok", 1: "blocked", 2: "inconclusive", 4: "degraded", 7: "ok"} {
		if wa.Verdicts[day(d)] != v {
			t.Errorf("AS9198 whatsapp on day %d: %q, want %q (%v)", d, wa.Verdicts[day(d)], v, wa.Verdicts)
		}
	}
	if tor := bands["AS9198/tor"]; tor.Buckets != 8 || tor.Verdicts[day(3)] != "blocked" {
		t.Errorf("AS9198 tor: %+v, want blocked on 8 days", tor)
	}
	if dns := bands["AS21299/dnscheck"]; dns.Buckets != 5 {
		t.Errorf("AS21299 dnscheck: %d buckets, want 5", dns.Buckets)
	}
	// In the page: each service row comes right after its network's rows, with a
	// canvas, and the service legend names the four verdicts.
	var layout struct {
		Canvases   int      `json:"canvases"`
		AfterAS    []string `json:"after"`
		LegendRows int      `json:"legend"`
	}
	err := b.eval(`(() => {
		const rows = [...document.querySelectorAll("#timelines .timeline")];
		const i = rows.findIndex((r) => !r.classList.contains("service") && r.dataset.label === "AS9198");
		return {
			canvases: document.querySelectorAll("#timelines .timeline.service canvas").length,
			after: rows.slice(i + 1, i + 3).map((r) => r.dataset.label + "/" + r.dataset.service),
			legend: document.querySelectorAll("#service-legend li").length,
		};
	})()`, &layout)
	if err != nil {
		t.Fatal(err)
	}
	if layout.Canvases != len(want) || strings.Join(layout.AfterAS, " ") != "AS9198/whatsapp AS9198/tor" || layout.LegendRows != 4 {
		t.Errorf("page layout %+v: want %d service canvases, AS9198's two services after it, 4 legend items", layout, len(want))
	}
}
