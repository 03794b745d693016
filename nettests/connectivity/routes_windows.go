package connectivity

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// hostRoutes reads the routing table with GetIpForwardTable2 (iphlpapi), the
// table `route print` shows.
func hostRoutes() ([]Route, error) {
	var table *windows.MibIpForwardTable2
	if err := windows.GetIpForwardTable2(windows.AF_UNSPEC, &table); err != nil {
		return nil, fmt.Errorf("connectivity: GetIpForwardTable2: %w", err)
	}
	defer windows.FreeMibTable(unsafe.Pointer(table))
	var out []Route
	for _, row := range table.Rows() {
		r := Route{Default: row.DestinationPrefix.PrefixLength == 0}
		data := *(*[24]byte)(unsafe.Pointer(&row.NextHop.Data))
		if gw, ok := sockaddrInetAddr(row.NextHop.Family, data); ok {
			r.Gateway = gw
		}
		out = append(out, r)
	}
	return out, nil
}
