package geo

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/probe/store"
)

type fakeMemory struct {
	infos map[string]store.NetworkInfo
	sets  int
}

func (m *fakeMemory) NetworkInfo(_ context.Context, key string) (*store.NetworkInfo, error) {
	if i, ok := m.infos[key]; ok {
		return &i, nil
	}
	return nil, nil
}

func (m *fakeMemory) SetNetworkInfo(_ context.Context, i store.NetworkInfo) error {
	m.sets++
	m.infos[i.Key] = i
	return nil
}

func helper(t *testing.T, answer map[string]any) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil || req["http_request"] == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(answer)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestLocatePrecedence(t *testing.T) {
	full := helper(t, map[string]any{"x_client_ip": "203.0.113.7", "x_client_cc": "KZ", "x_client_asn": "AS9198", "x_client_network_name": "JSC Kazakhtelecom"})
	numeric := helper(t, map[string]any{"x_client_ip": "203.0.113.8", "x_client_cc": "kz", "x_client_asn": 48503})
	ipOnly := helper(t, map[string]any{"x_client_ip": "203.0.113.9"})
	key := func() string { return "net-1" }
	remembered := func() *fakeMemory {
		return &fakeMemory{infos: map[string]store.NetworkInfo{"net-1": {Key: "net-1", ProbeCC: "UZ", ProbeASN: "AS8193", Name: "Uzbektelekom"}}}
	}
	cases := []struct {
		name    string
		l       Locator
		want    Location
		wantSet int
	}{
		{"config wins and the helper is not asked", Locator{Country: "DE", ASN: "AS3320", Helpers: []string{"http://127.0.0.1:1/"}},
			Location{CC: "DE", ASN: "AS3320", Source: SourceConfig, NetworkKey: "net-1"}, 0},
		{"helper, remembered for next time", Locator{Helpers: []string{full.URL}},
			Location{CC: "KZ", ASN: "AS9198", NetworkName: "JSC Kazakhtelecom", Source: SourceHelper, NetworkKey: "net-1", ClientIP: "203.0.113.7"}, 1},
		{"config country, helper ASN", Locator{Country: "KZ", Helpers: []string{numeric.URL}},
			Location{CC: "KZ", ASN: "AS48503", Source: SourceConfig, NetworkKey: "net-1", ClientIP: "203.0.113.8"}, 1},
		{"helper without mmdb falls back to memory", Locator{Helpers: []string{ipOnly.URL}},
			Location{CC: "UZ", ASN: "AS8193", NetworkName: "Uzbektelekom", Source: SourceNetwork, NetworkKey: "net-1", ClientIP: "203.0.113.9"}, 0},
		{"dead helper falls through to the next", Locator{Helpers: []string{"http://127.0.0.1:1/", full.URL}},
			Location{CC: "KZ", ASN: "AS9198", NetworkName: "JSC Kazakhtelecom", Source: SourceHelper, NetworkKey: "net-1", ClientIP: "203.0.113.7"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := remembered()
			c.l.Memory, c.l.NetworkKey = mem, key
			got := c.l.Locate(context.Background(), "https://example.org/")
			if got != c.want {
				t.Errorf("Locate = %+v\nwant     %+v", got, c.want)
			}
			if mem.sets != c.wantSet {
				t.Errorf("SetNetworkInfo called %d times, want %d", mem.sets, c.wantSet)
			}
			if c.wantSet > 0 {
				for _, info := range mem.infos {
					b, _ := json.Marshal(info)
					if strings.Contains(string(b), "203.0.113") {
						t.Errorf("the public address was stored: %s", b)
					}
				}
			}
		})
	}
}

func TestLocateUnknownNeverBlocks(t *testing.T) {
	// A helper that never answers: Locate must give up after its timeout.
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release) // runs before Close, which waits for the handler
	l := Locator{Helpers: []string{hang.URL}, Timeout: 100 * time.Millisecond, NetworkKey: func() string { return "" }, Memory: &fakeMemory{infos: map[string]store.NetworkInfo{}}}
	got := l.Locate(context.Background(), "https://example.org/")
	want := Location{CC: UnknownCC, ASN: UnknownASN, Source: SourceUnknown}
	if got != want {
		t.Errorf("Locate = %+v, want %+v", got, want)
	}
}

func TestHelperAnswerIsValidated(t *testing.T) {
	bad := helperAnswer{XClientIP: "not an ip", XClientCC: "Kazakhstan", XClientASN: "AS12x", XClientNetworkName: strings.Repeat("n", 300)}
	if v := bad.view(); v != (helperView{}) {
		t.Errorf("view of garbage = %+v, want empty", v)
	}
	zz := helperAnswer{XClientCC: "ZZ", XClientASN: "AS0"}
	if v := zz.view(); v.CC != "" || v.ASN != "" {
		t.Errorf("unknown values must not count as an answer: %+v", v)
	}
}

func TestNetworkKey(t *testing.T) {
	dir := t.TempDir()
	route := filepath.Join(dir, "route")
	arp := filepath.Join(dir, "arp")
	os.WriteFile(route, []byte("Iface\tDestination\tGateway \tFlags\nwlan0\t0001A8C0\t00000000\t0001\nwlan0\t00000000\t0101A8C0\t0003\n"), 0o644)
	os.WriteFile(arp, []byte("IP address       HW type     Flags       HW address            Mask     Device\n192.168.1.1      0x1         0x2         aa:bb:cc:dd:ee:ff     *        wlan0\n"), 0o644)
	if ip := hexToIPv4("0101A8C0"); ip != "192.168.1.1" {
		t.Fatalf("hexToIPv4 = %s, want 192.168.1.1", ip)
	}
	k1 := networkKey(route, arp)
	if !strings.HasPrefix(k1, "net-") || strings.Contains(k1, "192.168") {
		t.Fatalf("key %q", k1)
	}
	os.WriteFile(arp, []byte("IP address HW type Flags HW address Mask Device\n192.168.1.1 0x1 0x2 11:22:33:44:55:66 * wlan0\n"), 0o644)
	if k2 := networkKey(route, arp); k2 == k1 || k2 == "" {
		t.Errorf("another router with the same address must give another key: %q vs %q", k2, k1)
	}
	os.WriteFile(route, []byte("Iface\tDestination\tGateway\nlo\t0000007F\t00000000\n"), 0o644)
	if k := networkKey(route, arp); k != "" {
		t.Errorf("no default route: key %q, want empty", k)
	}
}
