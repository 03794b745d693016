package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/report/service"
)

// TestHelperServe runs the helper command's server in-process (lab mode) and asks it
// about a loopback site.
func TestHelperServe(t *testing.T) {
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<title>helper command test</title>")
	}))
	defer site.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serveHelper(ctx, config.Defaults(), helperOptions{listen: "127.0.0.1:0", labAllowPrivate: true}, io.Discard, func(u string) { ready <- u })
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("serveHelper: %v", err)
	}
	body := `{"http_request":"` + site.URL + `/","tcp_connect":["` + strings.TrimPrefix(site.URL, "http://") + `"]}`
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var th thproto.Response
	err = json.NewDecoder(resp.Body).Decode(&th)
	resp.Body.Close()
	cancel()
	if serr := <-done; serr != nil {
		t.Errorf("serveHelper after cancel: %v", serr)
	}
	if err != nil || th.HTTPRequest.StatusCode != 200 || th.HTTPRequest.Title != "helper command test" || th.XClientIP != "127.0.0.1" {
		t.Fatalf("answer %+v (%v)", th, err)
	}
}

func TestHelperServeUsageErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(bad, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgBadRoots := config.Defaults()
	cfgBadRoots.TLS.Roots = bad
	for name, c := range map[string]struct {
		cfg *config.Config
		o   helperOptions
	}{
		"cert without key": {config.Defaults(), helperOptions{listen: "127.0.0.1:0", tls: service.TLSOptions{CertFile: "c.pem"}}},
		"missing cert":     {config.Defaults(), helperOptions{listen: "127.0.0.1:0", tls: service.TLSOptions{CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"}}},
		"bad roots":        {cfgBadRoots, helperOptions{listen: "127.0.0.1:0"}},
		"bad listen":       {config.Defaults(), helperOptions{listen: "127.0.0.1:notaport"}},
		"bad mmdb":         {config.Defaults(), helperOptions{listen: "127.0.0.1:0", mmdb: []string{bad}}},
	} {
		err := serveHelper(context.Background(), c.cfg, c.o, io.Discard, func(string) { t.Errorf("%s: started", name) })
		var ce *exitCodeError
		if !errors.As(err, &ce) || ce.code != exitUsage {
			t.Errorf("%s: %v, want a usage error", name, err)
		}
	}
}
