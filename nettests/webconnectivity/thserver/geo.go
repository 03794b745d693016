package thserver

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
)

// GeoDB is an IP database (an *MMDB): Lookup returns the record of an address,
// nil when it has none.
type GeoDB interface {
	Lookup(ip netip.Addr) (any, error)
}

// geoInfo is what the databases say about one address.
type geoInfo struct {
	CC   string
	ASN  int64
	Name string
}

// locate merges what every database knows of addr: country from GeoIP2/GeoLite2
// Country (country.iso_code) or DB-IP/IPinfo style (country_code); network from
// GeoLite2 ASN (autonomous_system_number, _organization) or IPinfo style (asn
// "AS123", as_name). The first database with a field wins it.
func (s *Server) locate(addr string) geoInfo {
	var out geoInfo
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return out
	}
	for _, db := range s.cfg.Geo {
		rec, err := db.Lookup(ip)
		m, ok := rec.(map[string]any)
		if err != nil || !ok {
			continue
		}
		if out.CC == "" {
			out.CC = countryOf(m)
		}
		if out.ASN == 0 {
			out.ASN = asnOf(m)
		}
		if out.Name == "" {
			out.Name = firstString(m, "autonomous_system_organization", "as_name")
		}
	}
	return out
}

func countryOf(m map[string]any) string {
	if c, ok := m["country"].(map[string]any); ok {
		if iso, ok := c["iso_code"].(string); ok {
			return strings.ToUpper(iso)
		}
	}
	return strings.ToUpper(firstString(m, "country_code"))
}

func asnOf(m map[string]any) int64 {
	switch v := m["autonomous_system_number"].(type) {
	case uint64:
		return int64(v)
	}
	if s := firstString(m, "asn"); s != "" {
		n, err := strconv.ParseInt(strings.TrimPrefix(strings.ToUpper(s), "AS"), 10, 64)
		if err == nil && n > 0 {
			return n
		}
	}
	return 0
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// fillClient sets the x_client_* fields of resp for the probe's address.
func (s *Server) fillClient(resp *thproto.Response, clientIP string) {
	resp.XClientIP = clientIP
	if len(s.cfg.Geo) == 0 {
		return
	}
	g := s.locate(clientIP)
	resp.XClientCC, resp.XClientNetworkName = g.CC, g.Name
	if g.ASN > 0 {
		resp.XClientASN = "AS" + strconv.FormatInt(g.ASN, 10)
	}
}
