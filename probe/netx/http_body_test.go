package netx_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

func TestFetchBodyCap(t *testing.T) {
	big := strings.Repeat("x", 1000)
	srv := netxtest.NewHTTPServer(t, serveString(big))
	var c netx.Client
	res, _, err := fetch(t, &c, srv.URL, netx.FetchOptions{MaxBodyBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Body) != 100 || !res.BodyTruncated || !res.Final.Response.BodyIsTruncated || res.Final.Response.XBodyLength != 100 {
		t.Errorf("body %d bytes truncated %v/%v", len(res.Body), res.BodyTruncated, res.Final.Response.BodyIsTruncated)
	}
}

func gzipped(t *testing.T, data []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func serveGzip(payload []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(payload)
	})
}

func TestFetchDecodesGzip(t *testing.T) {
	srv := netxtest.NewHTTPServer(t, serveGzip(gzipped(t, []byte(helloPage))))
	var c netx.Client
	res, _, err := fetch(t, &c, srv.URL, netx.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Body) != helloPage || res.Final.Response.XTitle != "Hello & welcome" {
		t.Errorf("body %q", res.Body)
	}
	if res.Final.Request.Headers["Accept-Encoding"] != "gzip" || res.Final.Response.Headers["Content-Encoding"] != "gzip" {
		t.Errorf("encoding headers not recorded as sent and received")
	}
}

func TestFetchGzipBombStopsAtCap(t *testing.T) {
	// 16 MiB of zeros compress to about 16 KiB: decoding it all would be the bomb.
	bomb := gzipped(t, make([]byte, 16<<20))
	srv := netxtest.NewHTTPServer(t, serveGzip(bomb))
	var c netx.Client
	const limit = 1 << 16
	res, _, err := fetch(t, &c, srv.URL, netx.FetchOptions{MaxBodyBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Body) != limit || !res.BodyTruncated || !bytes.Equal(res.Body, make([]byte, limit)) {
		t.Errorf("body %d bytes truncated %v, want %d zero bytes and the flag", len(res.Body), res.BodyTruncated, limit)
	}
}

func TestFetchBadGzipIsInvalidResponse(t *testing.T) {
	srv := netxtest.NewHTTPServer(t, serveGzip([]byte("this is not gzip")))
	var c netx.Client
	_, _, err := fetch(t, &c, srv.URL, netx.FetchOptions{})
	if got := failure(err); got != netx.FailureHTTPInvalidResponse {
		t.Fatalf("failure = %q, want %q", got, netx.FailureHTTPInvalidResponse)
	}
}

func TestFetchInvalidUTF8BodyIsBase64InJSON(t *testing.T) {
	raw := []byte{0xff, 0xfe, 'a', 0x80}
	srv := netxtest.NewHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(raw) }))
	var c netx.Client
	res, _, err := fetch(t, &c, srv.URL, netx.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Body, raw) {
		t.Errorf("body %x, want %x", res.Body, raw)
	}
	b, err := json.Marshal(res.Final.Response)
	if err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Body struct{ Format, Data string } `json:"body"`
	}
	if err := json.Unmarshal(b, &decoded); err != nil || decoded.Body.Format != "base64" || decoded.Body.Data != "//5hgA==" {
		t.Errorf("body JSON %s, want base64 of the raw bytes", b)
	}
}

func TestFetchTruncatedBody(t *testing.T) {
	srv := netxtest.NewTruncatedServer(t)
	var c netx.Client
	res, _, err := fetch(t, &c, srv.URL, netx.FetchOptions{})
	if got := failure(err); got != netx.FailureEOF || operation(err) != "read" {
		t.Fatalf("failure = %q operation %q, want %q in read", got, operation(err), netx.FailureEOF)
	}
	f := res.Final
	if f.Response.Code != 200 || string(res.Body) != netxtest.TruncatedBodyPrefix || deref(f.Failure) != netx.FailureEOF {
		t.Errorf("code %d body %q failure %q: want the headers and the partial body kept", f.Response.Code, res.Body, deref(f.Failure))
	}
}

func TestTitle(t *testing.T) {
	cases := map[string]string{
		"<TITLE>Blocked</TITLE>":                 "Blocked",
		"<title lang=\"ru\">\n  a\n  b </title>": "a b",
		"no title here":                          "",
		"<title>unterminated":                    "",
		"<title>\xff\xfe</title>":                "\uFFFD\uFFFD",
	}
	for in, want := range cases {
		if got := netx.Title([]byte(in)); got != want {
			t.Errorf("Title(%q) = %q, want %q", in, got, want)
		}
	}
}
