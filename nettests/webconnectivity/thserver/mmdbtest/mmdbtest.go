// QUIRK: mmdbwriter (the fixture writer) does not compile on 32-bit targets
// (math.MaxUint32 overflows int), so its fixtures and their tests are 64-bit only.

//go:build !(arm || 386 || mips || mipsle)

// Package mmdbtest writes small MaxMind DB files for tests with MaxMind's own
// writer (github.com/maxmind/mmdbwriter), in the shapes of GeoLite2 ASN and
// Country, so that readers are tested against files they did not write.
package mmdbtest

import (
	"net"
	"os"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// AS is one network's GeoLite2-ASN record.
type AS struct {
	Number uint32
	Org    string
}

// WriteASN writes a GeoLite2-ASN-shaped database (autonomous_system_number,
// autonomous_system_organization) of nets (CIDR → AS) to path.
func WriteASN(t testing.TB, path string, nets map[string]AS) {
	t.Helper()
	recs := make(map[string]mmdbtype.DataType, len(nets))
	for cidr, as := range nets {
		recs[cidr] = mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(as.Number),
			"autonomous_system_organization": mmdbtype.String(as.Org),
		}
	}
	write(t, path, "GeoLite2-ASN", recs)
}

// WriteCountry writes a GeoLite2-Country-shaped database (country.iso_code) of
// nets (CIDR → ISO country code) to path.
func WriteCountry(t testing.TB, path string, nets map[string]string) {
	t.Helper()
	recs := make(map[string]mmdbtype.DataType, len(nets))
	for cidr, cc := range nets {
		recs[cidr] = mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(cc)}}
	}
	write(t, path, "GeoLite2-Country", recs)
}

func write(t testing.TB, path, dbType string, recs map[string]mmdbtype.DataType) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 28,
		Description:             map[string]string{"en": "vantage test " + dbType},
		IncludeReservedNetworks: true}) // labs and tests use private and loopback space
	if err != nil {
		t.Fatalf("mmdbtest: %v", err)
	}
	for cidr, v := range recs {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatalf("mmdbtest: %v", err)
		}
		if err := tree.Insert(n, v); err != nil {
			t.Fatalf("mmdbtest: insert %s: %v", cidr, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("mmdbtest: %v", err)
	}
	defer f.Close()
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatalf("mmdbtest: write %s: %v", path, err)
	}
}
