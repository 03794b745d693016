package hostile

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// Server is a running hostile HTTP server.
type Server struct {
	// Addr is the IP:port it listens on.
	Addr string
	// URL is http://Addr/.
	URL string
}

// newRawHTTP starts a plain-HTTP server that reads one request per connection and
// then lets respond write whatever it likes on the connection.
func newRawHTTP(t testing.TB, respond func(c net.Conn, req *http.Request, done <-chan struct{})) *Server {
	t.Helper()
	ln := listenTCP(t)
	acceptLoop(t, ln, func(c net.Conn, done <-chan struct{}) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		respond(c, req, done)
	})
	addr := ln.Addr().String()
	return &Server{Addr: addr, URL: "http://" + addr + "/"}
}

// fillChunk is what the endless writers repeat: a fixed buffer, so that the server
// itself allocates nothing while it floods.
var fillChunk = bytes.Repeat([]byte("<p>vantage hostile body</p>\n"), 1170) // ~32 KiB

// NewEndlessBody serves 200 with a chunked body that never ends: the client must stop
// reading at its cap.
func NewEndlessBody(t testing.TB) *Server {
	t.Helper()
	return newRawHTTP(t, func(c net.Conn, _ *http.Request, done <-chan struct{}) {
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"); err != nil {
			return
		}
		chunk := append([]byte(strconv.FormatInt(int64(len(fillChunk)), 16)+"\r\n"), fillChunk...)
		chunk = append(chunk, "\r\n"...)
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := c.Write(chunk); err != nil {
				return // the client hung up, as it should
			}
		}
	})
}

// NewHugeBody serves 200 announcing a Content-Length of size bytes and sending them
// all (as long as the client reads).
func NewHugeBody(t testing.TB, size int64) *Server {
	t.Helper()
	return newRawHTTP(t, func(c net.Conn, _ *http.Request, _ <-chan struct{}) {
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n", size)
		for left := size; left > 0; {
			n := min(left, int64(len(fillChunk)))
			if _, err := c.Write(fillChunk[:n]); err != nil {
				return
			}
			left -= n
		}
	})
}

// GzipBomb returns a gzip stream that inflates to size zero bytes. The compression
// ratio of zeros is about 1000:1, so 64 MiB cost about 64 KiB on the wire.
func GzipBomb(t testing.TB, size int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(zeros)) {
		if _, err := zw.Write(zeros[:min(left, int64(len(zeros)))]); err != nil {
			t.Fatalf("hostile: gzip bomb: %v", err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("hostile: gzip bomb: %v", err)
	}
	return buf.Bytes()
}

// NewGzipServer serves 200 with body, labelled Content-Encoding: gzip.
func NewGzipServer(t testing.TB, body []byte) *Server {
	t.Helper()
	return newRawHTTP(t, func(c net.Conn, _ *http.Request, _ <-chan struct{}) {
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", len(body))
		_, _ = c.Write(body)
	})
}

// NewEndlessHeaderLines answers with a status line and then header lines, each
// complete, forever: the header section never ends.
func NewEndlessHeaderLines(t testing.TB) *Server {
	t.Helper()
	var lines bytes.Buffer
	for i := range 512 {
		fmt.Fprintf(&lines, "X-Pad-%d: %s\r\n", i, bytes.Repeat([]byte("v"), 40))
	}
	return newEndlessHeader(t, lines.Bytes())
}

// NewEndlessHeaderLine answers with a status line and one header line that never
// ends (no CRLF ever comes).
func NewEndlessHeaderLine(t testing.TB) *Server {
	t.Helper()
	return newEndlessHeader(t, bytes.Repeat([]byte("a"), 32<<10))
}

func newEndlessHeader(t testing.TB, repeat []byte) *Server {
	return newRawHTTP(t, func(c net.Conn, _ *http.Request, done <-chan struct{}) {
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Endless: "); err != nil {
			return
		}
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := c.Write(repeat); err != nil {
				return
			}
		}
	})
}

// SlowPhase says where a slowloris server dribbles.
type SlowPhase int

// Phases of NewSlowloris.
const (
	// SlowHeaders sends the status line and headers one byte per interval.
	SlowHeaders SlowPhase = iota
	// SlowBody sends the headers at once, then the body one byte per interval.
	SlowBody
)

// SlowBodySize is the Content-Length a SlowBody server announces: far more than
// any test waits for.
const SlowBodySize = 1 << 20

// NewSlowloris sends its response one byte per interval (the classic figure is one a
// second; tests pass less) in the given phase, for as long as the client listens.
func NewSlowloris(t testing.TB, phase SlowPhase, interval time.Duration) *Server {
	t.Helper()
	head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n", SlowBodySize)
	return newRawHTTP(t, func(c net.Conn, _ *http.Request, done <-chan struct{}) {
		slow := []byte(head)
		if phase == SlowBody {
			if _, err := io.WriteString(c, head); err != nil {
				return
			}
			slow = bytes.Repeat([]byte("x"), SlowBodySize)
		}
		for _, b := range slow {
			if !sleep(interval, done) {
				return
			}
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
		}
	})
}

// NewRedirectLoop answers every request with 302 to the other of two paths, /a and
// /b, so that following redirects never reaches a page.
func NewRedirectLoop(t testing.TB) *Server {
	t.Helper()
	return newRawHTTP(t, func(c net.Conn, req *http.Request, _ <-chan struct{}) {
		next := "/a"
		if req.URL.Path == "/a" {
			next = "/b"
		}
		fmt.Fprintf(c, "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", next)
	})
}

// InvalidUTF8Body is the body NewInvalidUTF8 sends: a title and text with bytes that
// are not UTF-8.
const InvalidUTF8Body = "<html><head><title>caf\xe9 \xff\xfe</title></head><body>\xc3\x28 \xa0\xa1</body></html>"

// InvalidUTF8HeaderValue is the value of the X-Bad header NewInvalidUTF8 sends.
const InvalidUTF8HeaderValue = "\xff\xfe\xfd latin1 caf\xe9"

// NewInvalidUTF8 serves 200 with a header value and a body that are not UTF-8.
func NewInvalidUTF8(t testing.TB) *Server {
	t.Helper()
	return newRawHTTP(t, func(c net.Conn, _ *http.Request, _ <-chan struct{}) {
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Bad: %s\r\nContent-Length: %d\r\n\r\n%s",
			InvalidUTF8HeaderValue, len(InvalidUTF8Body), InvalidUTF8Body)
	})
}

// NewRawResponse answers every request with response, byte for byte, then closes.
func NewRawResponse(t testing.TB, response string) *Server {
	t.Helper()
	return newRawHTTP(t, func(c net.Conn, _ *http.Request, _ <-chan struct{}) {
		_, _ = io.WriteString(c, response)
	})
}

// EndlessHandler is an http.Handler for the library servers (HTTP/2, HTTP/3) that
// answers 200 with a body that never ends, until the client goes away.
func EndlessHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		for r.Context().Err() == nil {
			if _, err := w.Write(fillChunk); err != nil {
				return
			}
		}
	})
}

// HugeHeaderHandler answers 200 with n headers of 1 KiB each: far over any sane
// header budget, and what a library server lets a handler send.
func HugeHeaderHandler(n int) http.Handler {
	value := string(bytes.Repeat([]byte("h"), 1<<10))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range n {
			w.Header().Set(fmt.Sprintf("X-Huge-%d", i), value)
		}
		io.WriteString(w, "<html>after the headers</html>")
	})
}

// NewBloatedRedirects answers every path with a redirect to the path plus "a" until
// the path is hops letters long, then 200; every response carries 200 KiB of header
// lines and a 1 MiB body, all of '<', the character JSON escapes to six bytes. It
// attacks the size of the measurement rather than the probe's memory.
func NewBloatedRedirects(t testing.TB, hops int) *Server {
	t.Helper()
	body := bytes.Repeat([]byte("<"), 1<<20)
	var head bytes.Buffer
	for i := range 200 {
		fmt.Fprintf(&head, "X-Bloat-%d: %s\r\n", i, bytes.Repeat([]byte("<"), 1000))
	}
	return newRawHTTP(t, func(c net.Conn, req *http.Request, _ <-chan struct{}) {
		status := "200 OK"
		location := ""
		if n := len(req.URL.Path) - 1; n < hops {
			status, location = "302 Found", "Location: "+req.URL.Path+"a\r\n"
		}
		fmt.Fprintf(c, "HTTP/1.1 %s\r\n%sContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n", status, location, len(body))
		c.Write(head.Bytes())
		c.Write([]byte("\r\n"))
		c.Write(body)
	})
}
