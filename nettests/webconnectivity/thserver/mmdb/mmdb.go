// Package mmdb reads MaxMind DB files (.mmdb: GeoLite2/GeoIP2 Country and ASN, DB-IP,
// IPinfo), enough for the control helper to tell a probe its country and network. It
// follows the public MaxMind DB format specification, version 2
// (https://maxmind.github.io/MaxMind-DB/), and treats the file as untrusted: every
// offset is bounds-checked, pointer chains and nesting are bounded, and no input
// makes it panic.
package mmdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
)

// metadataMarker starts the metadata section, searched from the end of the file.
var metadataMarker = []byte("\xAB\xCD\xEFMaxMind.com")

// maxMetadataSearch: the specification puts the metadata in the last 128 KiB.
const maxMetadataSearch = 128 << 10

// dataSeparator is the 16 zero bytes between the search tree and the data section.
const dataSeparator = 16

// maxDepth bounds nesting (maps in arrays in maps, and pointer hops): real databases
// nest three or four levels; a crafted file must not recurse without end.
const maxDepth = 32

// ErrInvalid is wrapped by every error about a malformed database.
var ErrInvalid = errors.New("mmdb: invalid database")

// Reader looks addresses up in one database held in memory.
type Reader struct {
	tree       []byte // the search tree
	data       []byte // the data section
	nodeCount  uint32
	recordSize int // bits per record: 24, 28 or 32
	ipVersion  int
	ipv4Start  uint32 // the node where IPv4 addresses start in an IPv6 tree
	// DatabaseType is the metadata's database_type ("GeoLite2-ASN", ...).
	DatabaseType string
}

// Open reads a database file.
func Open(path string) (*Reader, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mmdb: %w", err)
	}
	return FromBytes(b)
}

// FromBytes parses a database held in b (which it keeps).
func FromBytes(b []byte) (*Reader, error) {
	start := max(0, len(b)-maxMetadataSearch)
	i := bytes.LastIndex(b[start:], metadataMarker)
	if i < 0 {
		return nil, fmt.Errorf("%w: no metadata marker", ErrInvalid)
	}
	metaStart := start + i + len(metadataMarker)
	d := decoder{buf: b[metaStart:]}
	v, _, err := d.decode(0, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: metadata: %v", ErrInvalid, err)
	}
	meta, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: metadata is not a map", ErrInvalid)
	}
	r := &Reader{}
	nodeCount, ok1 := meta["node_count"].(uint64)
	recordSize, ok2 := meta["record_size"].(uint64)
	ipVersion, ok3 := meta["ip_version"].(uint64)
	r.DatabaseType, _ = meta["database_type"].(string)
	if !ok1 || !ok2 || !ok3 || nodeCount > math.MaxUint32 {
		return nil, fmt.Errorf("%w: metadata lacks node_count, record_size or ip_version", ErrInvalid)
	}
	if recordSize != 24 && recordSize != 28 && recordSize != 32 {
		return nil, fmt.Errorf("%w: record_size %d", ErrInvalid, recordSize)
	}
	if ipVersion != 4 && ipVersion != 6 {
		return nil, fmt.Errorf("%w: ip_version %d", ErrInvalid, ipVersion)
	}
	r.nodeCount, r.recordSize, r.ipVersion = uint32(nodeCount), int(recordSize), int(ipVersion)
	treeSize := uint64(nodeCount) * recordSize * 2 / 8
	dataStart := treeSize + dataSeparator
	if dataStart > uint64(start+i) {
		return nil, fmt.Errorf("%w: search tree larger than the file", ErrInvalid)
	}
	r.tree = b[:treeSize]
	r.data = b[dataStart : start+i]
	if r.ipVersion == 6 {
		node := uint32(0)
		for j := 0; j < 96 && node < r.nodeCount; j++ {
			node = r.record(node, 0)
		}
		r.ipv4Start = node
	}
	return r, nil
}

// record returns the left (bit 0) or right (bit 1) record of node.
func (r *Reader) record(node uint32, bit int) uint32 {
	switch r.recordSize {
	case 24:
		o := int(node)*6 + bit*3
		return uint32(r.tree[o])<<16 | uint32(r.tree[o+1])<<8 | uint32(r.tree[o+2])
	case 28:
		o := int(node) * 7
		if bit == 0 {
			return uint32(r.tree[o+3]&0xF0)<<20 | uint32(r.tree[o])<<16 | uint32(r.tree[o+1])<<8 | uint32(r.tree[o+2])
		}
		return uint32(r.tree[o+3]&0x0F)<<24 | uint32(r.tree[o+4])<<16 | uint32(r.tree[o+5])<<8 | uint32(r.tree[o+6])
	default:
		o := int(node)*8 + bit*4
		return binary.BigEndian.Uint32(r.tree[o:])
	}
}

// Lookup returns the record for ip: nil, nil when the database has none.
func (r *Reader) Lookup(ip netip.Addr) (any, error) {
	ip = ip.Unmap()
	var bits []byte
	node := uint32(0)
	switch {
	case ip.Is4() && r.ipVersion == 6:
		a := ip.As4()
		bits, node = a[:], r.ipv4Start
	case ip.Is4():
		a := ip.As4()
		bits = a[:]
	case r.ipVersion == 4:
		return nil, nil // an IPv6 address in an IPv4-only database
	default:
		a := ip.As16()
		bits = a[:]
	}
	for i := 0; i < len(bits)*8 && node < r.nodeCount; i++ {
		node = r.record(node, int(bits[i/8]>>(7-i%8))&1)
	}
	switch {
	case node == r.nodeCount:
		return nil, nil
	case node < r.nodeCount:
		return nil, fmt.Errorf("%w: search tree deeper than an address", ErrInvalid)
	}
	offset := uint64(node) - uint64(r.nodeCount) - dataSeparator
	if offset >= uint64(len(r.data)) {
		return nil, fmt.Errorf("%w: data pointer %d outside the data section", ErrInvalid, offset)
	}
	v, _, err := (&decoder{buf: r.data}).decode(int(offset), 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return v, nil
}
