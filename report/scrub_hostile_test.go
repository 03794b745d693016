package report_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/vantage-probe/vantage/report"
)

// binaryValue encodes b as netx.MaybeBinary does for bytes that are not UTF-8.
func binaryValue(t *testing.T, b []byte) []byte {
	t.Helper()
	out, err := json.Marshal(map[string]string{"format": "base64", "data": base64.StdEncoding.EncodeToString(b)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestScrubAddressesInsideBase64: a page in a legacy encoding (windows-1251 here)
// that echoes the probe's address is stored as base64; the address must go from
// the decoded bytes too, and everything else must stay byte for byte.
func TestScrubAddressesInsideBase64(t *testing.T) {
	const addr = "198.51.100.23"
	page := []byte("<body>\xc2\xe0\xf8 \xe0\xe4\xf0\xe5\xf1: " + addr + " / 2001:db8::7</body>")
	other := []byte("\xff\xfe no address here")
	doc := []byte(`{"body":` + string(binaryValue(t, page)) + `,"other":` + string(binaryValue(t, other)) + `,"text":"from ` + addr + `"}`)

	got := report.ScrubAddresses(doc, addr, "2001:db8::7", "127.0.0.1")
	var out struct {
		Body, Other struct{ Data string }
		Text        string
	}
	if err := json.Unmarshal(got, &out); err != nil {
		t.Fatalf("scrubbed document is not JSON: %v\n%s", err, got)
	}
	body, _ := base64.StdEncoding.DecodeString(out.Body.Data)
	want := []byte("<body>\xc2\xe0\xf8 \xe0\xe4\xf0\xe5\xf1: [scrubbed] / [scrubbed]</body>")
	if !bytes.Equal(body, want) {
		t.Errorf("decoded body %q, want %q", body, want)
	}
	if out.Text != "from [scrubbed]" {
		t.Errorf("text %q", out.Text)
	}
	if !bytes.Contains(got, binaryValue(t, other)) {
		t.Errorf("a base64 value without the address changed: %s", got)
	}
	if again := report.ScrubAddresses(got, addr); !bytes.Equal(again, got) {
		t.Errorf("scrubbing twice changed the bytes:\n%s\n%s", got, again)
	}
}

// TestScrubAddressesLeavesLoopbackAndJunk: loopback is never scrubbed (it identifies
// nobody), and a base64-looking value that does not decode is left as it is.
func TestScrubAddressesLeavesLoopbackAndJunk(t *testing.T) {
	doc := []byte(`{"a":"127.0.0.1","b":{"data":"!!notbase64","format":"base64"},"c":{"data":"AAA","format":"base64"}}`)
	if got := report.ScrubAddresses(doc, "127.0.0.1", "198.51.100.23"); !bytes.Equal(got, doc) {
		t.Errorf("changed:\n%s\n%s", doc, got)
	}
}

// BenchmarkScrubAddressesLargeBinaryBody measures the scrub of a measurement holding
// a 1 MiB body that is not UTF-8 (stored as base64): the largest a fetch keeps.
func BenchmarkScrubAddressesLargeBinaryBody(b *testing.B) {
	body := bytes.Repeat([]byte("\xff<p>198.51.100.23</p>"), (1<<20)/22)
	enc, _ := json.Marshal(map[string]string{"format": "base64", "data": base64.StdEncoding.EncodeToString(body)})
	doc := []byte(`{"requests":[{"response":{"body":` + string(enc) + `}}]}`)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		report.ScrubAddresses(doc, "198.51.100.23")
	}
}

// FuzzScrubAddresses: whatever bytes a measurement holds, no scrubbed address
// survives as text or inside a base64 value, and valid JSON stays valid JSON.
func FuzzScrubAddresses(f *testing.F) {
	const v4, v6 = "198.51.100.23", "2001:db8::7"
	f.Add([]byte(`{"a":"198.51.100.23","b":{"data":"MTk4LjUxLjEwMC4yMw==","format":"base64"}}`), true)
	f.Add([]byte(`{"data":"","format":"base64"}{"data":"MTk4LjUxLjEwMC4y","format":"base64"}`), false)
	f.Add([]byte(`198.51.100.2198.51.100.233 2001:0db8:0000:0000:0000:0000:0000:0007`), true)
	f.Fuzz(func(t *testing.T, doc []byte, withV6 bool) {
		addrs := []string{v4}
		if withV6 {
			addrs = append(addrs, v6)
		}
		out := report.ScrubAddresses(doc, addrs...)
		targets := []string{v4}
		if withV6 {
			targets = append(targets, v6, "2001:0db8:0000:0000:0000:0000:0000:0007")
		}
		for _, target := range targets {
			if bytes.Contains(out, []byte(target)) {
				t.Fatalf("%s survives as text in %q", target, out)
			}
		}
		if json.Valid(doc) && !json.Valid(out) {
			t.Fatalf("valid JSON became invalid: %q -> %q", doc, out)
		}
		for rest := out; ; {
			i := bytes.Index(rest, []byte(`{"data":"`))
			if i < 0 {
				break
			}
			rest = rest[i+len(`{"data":"`):]
			j := bytes.Index(rest, []byte(`","format":"base64"}`))
			if j < 0 {
				break
			}
			if raw, err := base64.StdEncoding.DecodeString(string(rest[:j])); err == nil {
				for _, target := range targets {
					if bytes.Contains(raw, []byte(target)) {
						t.Fatalf("%s survives inside base64 %q", target, rest[:j])
					}
				}
			}
		}
	})
}
