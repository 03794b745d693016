package netx

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
)

// maxTitleRunes caps x_title: a title longer than this is a page stuffing its head,
// and the comparison only needs the start.
const maxTitleRunes = 256

// errBadGzip marks a body that says it is gzip but does not decode.
var errBadGzip = fmt.Errorf("netx: body: bad gzip stream")

// readBody reads the response body up to max bytes after decoding. A gzip body is
// decoded here, under the same cap on the decoded bytes, so a small compressed body
// that inflates to gigabytes (a gzip bomb) costs at most max bytes of memory. It
// returns what it read even on error (a truncated body is evidence too).
func readBody(resp *http.Response, max int64) ([]byte, bool, error) {
	var src io.Reader = resp.Body
	if isGzip(resp.Header.Get("Content-Encoding")) {
		gz, err := gzip.NewReader(resp.Body)
		if err != nil {
			if err == io.EOF {
				return []byte{}, false, nil // an empty body labelled gzip
			}
			return []byte{}, false, &Error{Failure: FailureHTTPInvalidResponse, Operation: "read", Err: fmt.Errorf("%w: %v", errBadGzip, err)}
		}
		defer gz.Close()
		src = gz
	}
	body, err := io.ReadAll(io.LimitReader(src, max+1))
	truncated := int64(len(body)) > max
	if truncated {
		body = body[:max]
	}
	return body, truncated, err
}

func isGzip(encoding string) bool {
	e := strings.ToLower(strings.TrimSpace(encoding))
	return e == "gzip" || e == "x-gzip"
}

// emptyResponse is the response half of a round trip that got no response: empty
// lists rather than nulls, as OONI writes them.
func emptyResponse() HTTPResponse {
	return HTTPResponse{HeadersList: []HTTPHeader{}, Headers: map[string]MaybeBinary{}}
}

// responseRecord is the response half of a requests event.
func responseRecord(resp *http.Response, body []byte, truncated bool) HTTPResponse {
	list, m := headerRecords(resp.Header)
	rec := HTTPResponse{
		Body:            MaybeBinary(body),
		BodyIsTruncated: truncated,
		Code:            int64(resp.StatusCode),
		HeadersList:     list,
		Headers:         m,
		XBodyLength:     int64(len(body)),
		XTitle:          Title(body),
	}
	if len(body) > 0 {
		sum := sha256.Sum256(body)
		rec.XBodySHA256 = hex.EncodeToString(sum[:])
	}
	return rec
}

var titlePattern = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title`)

// Title returns the text of the first <title> element of an HTML body, unescaped,
// with whitespace collapsed, or "" when there is none. Invalid UTF-8 is replaced so
// the title is always a JSON string.
func Title(body []byte) string {
	m := titlePattern.FindSubmatch(body)
	if m == nil {
		return ""
	}
	t := html.UnescapeString(string(m[1]))
	t = strings.Join(strings.Fields(t), " ")
	// Converting to runes replaces each invalid byte with U+FFFD, one for one, so
	// the title stays a JSON string and still shows how many bytes were odd.
	runes := []rune(t)
	if len(runes) > maxTitleRunes {
		runes = runes[:maxTitleRunes]
	}
	return string(runes)
}
