//go:build unix

package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// chromiumStartTimeout is generous: on a loaded two-core CI machine a cold
// chromium takes seconds to open its DevTools port.
const chromiumStartTimeout = 60 * time.Second

// cdpCallTimeout bounds one DevTools call (a screenshot of a long page is the
// slowest).
const cdpCallTimeout = 30 * time.Second

// browser is a headless chromium driven over the Chrome DevTools Protocol.
type browser struct {
	cmd     *exec.Cmd
	profile string
	page    *websocket.Conn
	next    int
}

var devtoolsRE = regexp.MustCompile(`DevTools listening on (ws://127\.0\.0\.1:(\d+)/\S+)`)

// startChromium starts Debian's chromium headless with a fresh profile, or skips
// the test when it is not installed. Every request that is not to loopback is sent
// to a proxy on 127.0.0.1:9 where nothing listens, so the browser cannot reach
// anything but the collector under test.
func startChromium(t *testing.T) *browser {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (run .ci/services as root): skipping the browser test")
	}
	// Not t.TempDir: chromium's helper processes may still be writing to the
	// profile as they exit, so close removes it after the whole group is gone.
	profile, err := os.MkdirTemp("", "vantage-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--no-pings", "--disable-domain-reliability",
		"--disable-dev-shm-usage", // containers often have a tiny /dev/shm
		"--proxy-server=http://127.0.0.1:9",
		"--user-data-dir=" + profile,
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--remote-allow-origins=http://127.0.0.1",
		"--window-size=1200,1300", "--hide-scrollbars",
		"about:blank",
	}
	cmd := exec.Command(bin, args...)
	// Its own process group, so that close ends chromium's helpers with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := &browser{cmd: cmd, profile: profile}
	t.Cleanup(b.close)
	found := make(chan string, 1)
	go func() { // owned by cmd: ends when chromium closes stderr
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := devtoolsRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[2]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	var port string
	select {
	case port = <-found:
	case <-time.After(chromiumStartTimeout):
		t.Fatal("chromium did not open its DevTools port")
	}
	b.page = connectPage(t, port)
	return b
}

// connectPage attaches to the first page target.
func connectPage(t *testing.T, port string) *websocket.Conn {
	t.Helper()
	deadline := time.Now().Add(chromiumStartTimeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://127.0.0.1:" + port + "/json/list")
		if err == nil {
			var targets []struct {
				Type string `json:"type"`
				WS   string `json:"webSocketDebuggerUrl"`
			}
			err = json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
			for _, tg := range targets {
				if err == nil && tg.Type == "page" && tg.WS != "" {
					ws, err := websocket.Dial(tg.WS, "", "http://127.0.0.1")
					if err != nil {
						t.Fatalf("devtools websocket: %v", err)
					}
					return ws
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("chromium has no page target")
	return nil
}

// close kills the chromium process group this test started, waits for it, and
// removes the profile (retrying while helpers that outlived the kill let go of it).
func (b *browser) close() {
	if b.page != nil {
		b.page.Close()
	}
	if b.cmd.Process != nil {
		syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		b.cmd.Wait()
	}
	for range 50 {
		if os.RemoveAll(b.profile) == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// call sends one DevTools command and returns its result, skipping events.
func (b *browser) call(method string, params any, result any) error {
	b.next++
	id := b.next
	msg := map[string]any{"id": id, "method": method, "params": params}
	b.page.SetDeadline(time.Now().Add(cdpCallTimeout))
	if err := websocket.JSON.Send(b.page, msg); err != nil {
		return fmt.Errorf("cdp %s: %w", method, err)
	}
	for {
		var resp struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := websocket.JSON.Receive(b.page, &resp); err != nil {
			return fmt.Errorf("cdp %s: %w", method, err)
		}
		if resp.ID != id {
			continue // an event
		}
		if resp.Error != nil {
			return fmt.Errorf("cdp %s: %s", method, resp.Error.Message)
		}
		if result == nil {
			return nil
		}
		return json.Unmarshal(resp.Result, result)
	}
}

// eval evaluates a JavaScript expression in the page and decodes its JSON value.
func (b *browser) eval(expr string, out any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := b.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res); err != nil {
		return err
	}
	if res.Exception != nil {
		return fmt.Errorf("javascript %q: %s", expr, res.Exception.Text)
	}
	return json.Unmarshal(res.Result.Value, out)
}

// waitFor evaluates a boolean expression until it is true. This is synchronisation
// with the page's asynchronous loading, not a timing assertion: the bound only stops
// a broken page from hanging the test.
func (b *browser) waitFor(ctx context.Context, expr string) error {
	for {
		var ok bool
		if err := b.eval(expr, &ok); err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.New("timed out waiting for " + expr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// screenshot saves a PNG of the whole page.
func (b *browser) screenshot(path string) error {
	var res struct {
		Data []byte `json:"data"` // base64 in JSON, decoded by encoding/json
	}
	if err := b.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &res); err != nil {
		return err
	}
	if len(res.Data) < 8 || !strings.HasPrefix(string(res.Data[1:4]), "PNG") {
		return errors.New("screenshot is not a PNG")
	}
	return os.WriteFile(path, res.Data, 0o644)
}
