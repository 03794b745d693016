package geo

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"os"
	"strings"
)

// DefaultNetworkKey names the network the probe is on, so that a later run on the
// same network can reuse what was learnt about it. On Linux it is derived from the
// default route's interface and gateway, and the gateway's link-layer address (which
// tells apart two home networks that both use 192.168.1.1). It is a hash: the
// gateway's addresses are not stored. Elsewhere, or without a default route, it is
// "" and the network memory is not used.
func DefaultNetworkKey() string {
	return networkKey("/proc/net/route", "/proc/net/arp")
}

func networkKey(routeFile, arpFile string) string {
	iface, gwHex := defaultRoute(routeFile)
	if iface == "" {
		return ""
	}
	gw := hexToIPv4(gwHex)
	mac := arpMAC(arpFile, gw, iface)
	sum := sha256.Sum256([]byte("vantage-network-key-v1|" + iface + "|" + gw + "|" + mac))
	return "net-" + hex.EncodeToString(sum[:8])
}

// defaultRoute reads /proc/net/route (columns Iface Destination Gateway ...; hex,
// little-endian) and returns the interface and gateway of the default route.
func defaultRoute(file string) (iface, gateway string) {
	f, err := os.Open(file)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 3 && fields[1] == "00000000" {
			return fields[0], fields[2]
		}
	}
	return "", ""
}

func hexToIPv4(h string) string {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 4 {
		return ""
	}
	// /proc/net/route prints the address in host byte order (little-endian on the
	// machines vantage runs on).
	return netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]}).String()
}

// arpMAC finds the link-layer address of ip on iface in /proc/net/arp (columns IP
// address, HW type, Flags, HW address, Mask, Device).
func arpMAC(file, ip, iface string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 6 && fields[0] == ip && fields[5] == iface {
			return fields[3]
		}
	}
	return ""
}
