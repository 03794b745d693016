package geo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
)

// maxHelperAnswer bounds the helper's answer; a TH response for one URL is a few kB.
const maxHelperAnswer = 1 << 20

// helperView is what a control helper says about the probe's public address.
type helperView struct {
	ClientIP    string
	CC          string
	ASN         string
	NetworkName string
}

// helperAnswer holds only the x_client_* fields of a TH response (see
// nettests/webconnectivity/thproto): geo needs nothing else from it.
type helperAnswer struct {
	XClientIP          string `json:"x_client_ip"`
	XClientCC          string `json:"x_client_cc"`
	XClientASN         any    `json:"x_client_asn"` // "AS9198" or 9198, tolerated both ways
	XClientNetworkName string `json:"x_client_network_name"`
}

var (
	ccPattern  = regexp.MustCompile(`^[A-Z]{2}$`)
	asnPattern = regexp.MustCompile(`^AS[0-9]{1,10}$`)
)

func (l *Locator) askHelpers(ctx context.Context, probeURL string) (helperView, bool) {
	if probeURL == "" || len(l.Helpers) == 0 {
		return helperView{}, false
	}
	timeout := l.Timeout
	if timeout <= 0 {
		timeout = DefaultLookupTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, h := range l.Helpers {
		v, err := l.askHelper(ctx, h, probeURL)
		if err == nil {
			return v, true
		}
		l.logger().Info("geo: helper did not tell the probe's location", "helper", h, "err", err)
		if ctx.Err() != nil {
			break
		}
	}
	return helperView{}, false
}

func (l *Locator) askHelper(ctx context.Context, helper, probeURL string) (helperView, error) {
	body, _ := json.Marshal(map[string]any{
		"http_request":         probeURL,
		"http_request_headers": map[string][]string{},
		"tcp_connect":          []string{},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, helper, bytes.NewReader(body))
	if err != nil {
		return helperView{}, fmt.Errorf("geo: helper request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := l.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return helperView{}, fmt.Errorf("geo: helper: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return helperView{}, fmt.Errorf("geo: helper: status %s", resp.Status)
	}
	var a helperAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxHelperAnswer)).Decode(&a); err != nil {
		return helperView{}, fmt.Errorf("geo: helper answer: %w", err)
	}
	return a.view(), nil
}

// view keeps only well-formed values: the answer comes from the network.
func (a helperAnswer) view() helperView {
	var v helperView
	if ip, err := netip.ParseAddr(a.XClientIP); err == nil {
		v.ClientIP = ip.String()
	}
	if cc := strings.ToUpper(strings.TrimSpace(a.XClientCC)); ccPattern.MatchString(cc) && cc != UnknownCC {
		v.CC = cc
	}
	var asn string
	switch x := a.XClientASN.(type) {
	case string:
		asn = strings.ToUpper(strings.TrimSpace(x))
		if !strings.HasPrefix(asn, "AS") {
			asn = "AS" + asn
		}
	case float64:
		if x > 0 && x < 1<<32 {
			asn = fmt.Sprintf("AS%d", uint32(x))
		}
	}
	if asnPattern.MatchString(asn) && asn != UnknownASN {
		v.ASN = asn
	}
	if n := strings.TrimSpace(a.XClientNetworkName); len(n) <= 200 {
		v.NetworkName = n
	}
	return v
}
