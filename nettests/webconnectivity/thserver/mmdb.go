package thserver

import (
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// MMDB is an IP database in the MaxMind DB format (GeoLite2/GeoIP2 Country and
// ASN, DB-IP, IPinfo), read with MaxMind's maintained reader.
type MMDB struct {
	r    *maxminddb.Reader
	path string
}

var _ GeoDB = (*MMDB)(nil)

// OpenMMDB opens and checks the database at path: a file that is not a valid
// MaxMind DB is refused here, not at the first lookup.
func OpenMMDB(path string) (*MMDB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mmdb %s: %w", path, err)
	}
	if err := r.Verify(); err != nil {
		r.Close()
		return nil, fmt.Errorf("mmdb %s: %w", path, err)
	}
	return &MMDB{r: r, path: path}, nil
}

// Lookup returns the record of ip as a map[string]any (nil when the database
// has none).
func (m *MMDB) Lookup(ip netip.Addr) (any, error) {
	res := m.r.Lookup(ip)
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("mmdb %s: %w", m.path, err)
	}
	if !res.Found() {
		return nil, nil
	}
	var rec map[string]any
	if err := res.Decode(&rec); err != nil {
		return nil, fmt.Errorf("mmdb %s: %w", m.path, err)
	}
	return rec, nil
}

// Close releases the database.
func (m *MMDB) Close() error { return m.r.Close() }

// ASN is the autonomous system of ip in the database (GeoLite2-ASN or IPinfo
// fields, as the helper reads them); 0 when it has none or cannot say. It is a
// netx.ASNLookup, for the probe's [probe] asn_db.
func (m *MMDB) ASN(ip netip.Addr) (int64, string) {
	rec, err := m.Lookup(ip)
	r, ok := rec.(map[string]any)
	if err != nil || !ok {
		return 0, ""
	}
	asn := asnOf(r)
	if asn == 0 {
		return 0, ""
	}
	return asn, firstString(r, "autonomous_system_organization", "as_name")
}
