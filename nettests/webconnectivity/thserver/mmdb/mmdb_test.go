package mmdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"sort"
	"testing"
)

// encoder writes the data-section encoding, for building test databases.
type encoder struct{ bytes.Buffer }

func (e *encoder) control(typ, size int) {
	var ext []byte
	t := typ
	if typ > 7 {
		t, ext = typeExtended, []byte{byte(typ - 7)}
	}
	switch {
	case size < 29:
		e.WriteByte(byte(t<<5 | size))
		e.Write(ext)
	case size < 285:
		e.WriteByte(byte(t<<5 | 29))
		e.Write(ext)
		e.WriteByte(byte(size - 29))
	default:
		e.WriteByte(byte(t<<5 | 30))
		e.Write(ext)
		e.WriteByte(byte((size - 285) >> 8))
		e.WriteByte(byte(size - 285))
	}
}

func (e *encoder) value(v any) {
	switch x := v.(type) {
	case string:
		e.control(typeString, len(x))
		e.WriteString(x)
	case uint64:
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], x)
		p := bytes.TrimLeft(b[:], "\x00")
		e.control(typeUint64, len(p))
		e.Write(p)
	case uint32:
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], x)
		p := bytes.TrimLeft(b[:], "\x00")
		e.control(typeUint32, len(p))
		e.Write(p)
	case bool:
		s := 0
		if x {
			s = 1
		}
		e.control(typeBool, s)
	case []any:
		e.control(typeArray, len(x))
		for _, y := range x {
			e.value(y)
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		e.control(typeMap, len(x))
		for _, k := range keys {
			e.value(k)
			e.value(x[k])
		}
	default:
		panic("test encoder: unsupported value")
	}
}

// trieNode is a search-tree node under construction; a record is a child node, a
// data offset (data >= 0) or empty.
type trieNode struct {
	child [2]*trieNode
	data  [2]int
	id    int
}

// buildDB writes a database of the given IP version and record size mapping each
// prefix to its value.
func buildDB(t testing.TB, ipVersion, recordSize int, entries map[string]any) []byte {
	t.Helper()
	var data encoder
	root := &trieNode{data: [2]int{-1, -1}}
	for p, v := range entries {
		prefix := netip.MustParsePrefix(p)
		offset := data.Len()
		data.value(v)
		addr := prefix.Addr()
		var bits []byte
		if ipVersion == 6 {
			a := addr.As16()
			bits = a[:]
		} else {
			a := addr.As4()
			bits = a[:]
		}
		n, length := root, prefix.Bits()
		if ipVersion == 6 && addr.Is4() {
			a := netip.AddrFrom16(addr.As16()) // ::ffff:a.b.c.d → use the ::a.b.c.d subtree
			b := a.As16()
			copy(b[:12], make([]byte, 12))
			bits, length = b[:], length+96
		}
		for i := 0; i < length-1; i++ {
			bit := int(bits[i/8]>>(7-i%8)) & 1
			if n.child[bit] == nil {
				n.child[bit] = &trieNode{data: [2]int{-1, -1}}
			}
			n = n.child[bit]
		}
		last := length - 1
		n.data[int(bits[last/8]>>(7-last%8))&1] = offset
	}
	var nodes []*trieNode
	queue := []*trieNode{root}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		n.id = len(nodes)
		nodes = append(nodes, n)
		for _, c := range n.child {
			if c != nil {
				queue = append(queue, c)
			}
		}
	}
	count := len(nodes)
	var tree bytes.Buffer
	for _, n := range nodes {
		var rec [2]uint32
		for b := 0; b < 2; b++ {
			switch {
			case n.child[b] != nil:
				rec[b] = uint32(n.child[b].id)
			case n.data[b] >= 0:
				rec[b] = uint32(count + dataSeparator + n.data[b])
			default:
				rec[b] = uint32(count)
			}
		}
		switch recordSize {
		case 24:
			tree.Write([]byte{byte(rec[0] >> 16), byte(rec[0] >> 8), byte(rec[0]), byte(rec[1] >> 16), byte(rec[1] >> 8), byte(rec[1])})
		case 28:
			tree.Write([]byte{byte(rec[0] >> 16), byte(rec[0] >> 8), byte(rec[0]), byte(rec[0]>>24)<<4 | byte(rec[1]>>24)&0x0F, byte(rec[1] >> 16), byte(rec[1] >> 8), byte(rec[1])})
		default:
			binary.Write(&tree, binary.BigEndian, rec)
		}
	}
	var meta encoder
	meta.value(map[string]any{
		"node_count": uint32(count), "record_size": uint64(recordSize), "ip_version": uint64(ipVersion),
		"database_type": "vantage-test", "binary_format_major_version": uint64(2), "languages": []any{},
	})
	var out bytes.Buffer
	out.Write(tree.Bytes())
	out.Write(make([]byte, dataSeparator))
	out.Write(data.Bytes())
	out.Write(metadataMarker)
	out.Write(meta.Bytes())
	return out.Bytes()
}

func TestLookup(t *testing.T) {
	kz := map[string]any{"country": map[string]any{"iso_code": "KZ"}, "autonomous_system_number": uint32(9198), "autonomous_system_organization": "JSC Kazakhtelecom"}
	de := map[string]any{"country_code": "DE", "asn": "AS3320", "as_name": "Deutsche Telekom AG", "flags": []any{true, "x"}}
	for _, ipv := range []int{4, 6} {
		for _, rs := range []int{24, 28, 32} {
			entries := map[string]any{"95.56.0.0/15": kz, "80.128.0.0/11": de}
			if ipv == 6 {
				entries["2a02:8100::/24"] = de
			}
			r, err := FromBytes(buildDB(t, ipv, rs, entries))
			if err != nil {
				t.Fatalf("v%d/%d: %v", ipv, rs, err)
			}
			if r.DatabaseType != "vantage-test" {
				t.Errorf("database_type %q", r.DatabaseType)
			}
			cases := map[string]any{"95.56.1.100": kz, "95.57.255.255": kz, "80.130.1.1": de, "95.58.0.1": nil, "8.8.8.8": nil, "::ffff:95.56.1.1": kz}
			if ipv == 6 {
				cases["2a02:8100:1::1"] = de
				cases["2a02:8200::1"] = nil
			} else {
				cases["2a02:8100:1::1"] = nil
			}
			for ip, want := range cases {
				got, err := r.Lookup(netip.MustParseAddr(ip))
				if err != nil || !reflect.DeepEqual(normalize(got), normalize(want)) {
					t.Errorf("v%d/%d: Lookup(%s) = %v, %v; want %v", ipv, rs, ip, got, err, want)
				}
			}
		}
	}
}

// normalize turns the test's uint32 values into the decoder's uint64.
func normalize(v any) any {
	switch x := v.(type) {
	case uint32:
		return uint64(x)
	case map[string]any:
		out := map[string]any{}
		for k, y := range x {
			out[k] = normalize(y)
		}
		return out
	case []any:
		out := []any{}
		for _, y := range x {
			out = append(out, normalize(y))
		}
		return out
	}
	return v
}

func TestInvalid(t *testing.T) {
	good := buildDB(t, 4, 24, map[string]any{"1.0.0.0/8": "x"})
	var field, size24, size25 encoder
	field.value("record_size")
	size24.value(uint64(24))
	size25.value(uint64(25))
	oldField := append(append([]byte{}, field.Bytes()...), size24.Bytes()...)
	newField := append(append([]byte{}, field.Bytes()...), size25.Bytes()...)
	badRecord := bytes.Replace(good, oldField, newField, 1)
	if bytes.Equal(badRecord, good) {
		t.Fatal("record_size not found in the test database")
	}
	for name, b := range map[string][]byte{
		"empty":      nil,
		"no marker":  good[:len(good)-60],
		"truncated":  good[len(good)-40:],
		"bad record": badRecord,
	} {
		if _, err := FromBytes(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func FuzzFromBytes(f *testing.F) {
	f.Add(buildDB(f, 4, 24, map[string]any{"1.0.0.0/8": map[string]any{"a": "b"}}))
	f.Add(buildDB(f, 6, 28, map[string]any{"1.0.0.0/8": "x", "2001::/16": []any{uint64(1)}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := FromBytes(b)
		if err != nil {
			return
		}
		for _, ip := range []string{"1.2.3.4", "2001::1", "0.0.0.0", "255.255.255.255"} {
			_, _ = r.Lookup(netip.MustParseAddr(ip)) // must not panic
		}
	})
}
