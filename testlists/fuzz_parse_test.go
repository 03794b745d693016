package testlists

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse feeds the format-detecting entry point (what `vantage run --input-file`
// and the collector's test-list refresh use) arbitrary files, CSV or plain: no panic,
// every error is a *ParseError naming the file, and every accepted entry is a URL
// web_connectivity can measure.
func FuzzParse(f *testing.F) {
	f.Add([]byte("# comment\nhttps://a.example/\n\nhttp://b.example/path?q=1\n"))
	f.Add([]byte("url,category_code\nhttps://a.example/,NEWS\n"))
	f.Add([]byte("\uFEFFhttps://a.example/\r\n"))
	f.Add([]byte("javascript:alert(1)\n"))
	f.Add([]byte("https://a.example/\x00\n"))
	f.Add(bytes.Repeat([]byte("h"), maxLineBytes+1))
	f.Add([]byte("url,,url\n,,\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := Parse(bytes.NewReader(data), "fuzz.txt")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "fuzz.txt" {
				t.Fatalf("error %v is not a *ParseError naming the file", err)
			}
			return
		}
		if len(entries) == 0 {
			t.Fatal("accepted a list with no URL")
		}
		for _, e := range entries {
			if err := CheckURL(e.URL); err != nil {
				t.Fatalf("accepted %q: %v", e.URL, err)
			}
		}
	})
}
