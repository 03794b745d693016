package collector_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }

func newTestServer(t *testing.T, h http.Handler) string {
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}
