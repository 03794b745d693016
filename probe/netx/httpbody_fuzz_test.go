package netx

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzResponseRecord feeds arbitrary bytes as a server's HTTP/1.1 response through
// the parsing, body reading (gzip included) and recording Fetch does: none of it may
// panic, the body must respect the cap, and the record must encode as JSON.
func FuzzResponseRecord(f *testing.F) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("<title>zipped</title>"))
	zw.Close()
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"))
	f.Add([]byte("HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add(append([]byte("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n"), gz.Bytes()...))
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n<title>\xff\xfe</title>"))
	const limit = 64
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		body, truncated, _ := readBody(resp, limit)
		if len(body) > limit || (truncated && len(body) != limit) {
			t.Fatalf("body of %d bytes (truncated %v) breaks the cap of %d", len(body), truncated, limit)
		}
		rec := responseRecord(resp, body, truncated)
		if _, err := json.Marshal(rec); err != nil {
			t.Fatalf("record does not encode: %v", err)
		}
		redirectTarget(req.URL, resp.StatusCode, resp.Header.Get("Location"))
	})
}
