package mmdb

import (
	"encoding/binary"
	"errors"
	"math"
)

// Data types of the MaxMind DB data section.
const (
	typeExtended = 0
	typePointer  = 1
	typeString   = 2
	typeDouble   = 3
	typeBytes    = 4
	typeUint16   = 5
	typeUint32   = 6
	typeMap      = 7
	typeInt32    = 8
	typeUint64   = 9
	typeUint128  = 10
	typeArray    = 11
	typeBool     = 14
	typeFloat    = 15
)

var (
	errShort = errors.New("data runs past the end of its section")
	errDeep  = errors.New("data nested too deep")
	errType  = errors.New("unknown data type")
)

// decoder decodes values of one section. Unsigned integers decode as uint64, int32
// as int64, floats as float64, uint128 as []byte, maps as map[string]any, arrays as
// []any.
type decoder struct{ buf []byte }

// decode returns the value at offset and the offset after it.
func (d *decoder) decode(offset, depth int) (any, int, error) {
	if depth > maxDepth {
		return nil, 0, errDeep
	}
	typ, size, next, err := d.control(offset)
	if err != nil {
		return nil, 0, err
	}
	if typ == typePointer {
		target, after, err := d.pointer(offset, next)
		if err != nil {
			return nil, 0, err
		}
		v, _, err := d.decode(target, depth+1)
		return v, after, err
	}
	return d.value(typ, size, next, depth)
}

// control reads a control byte (and its extensions) at offset: type, payload size and
// the payload's offset. For pointers size is the control byte itself.
func (d *decoder) control(offset int) (typ, size, next int, err error) {
	if offset < 0 || offset >= len(d.buf) {
		return 0, 0, 0, errShort
	}
	c := d.buf[offset]
	typ, next = int(c>>5), offset+1
	if typ == typePointer {
		return typ, int(c), next, nil
	}
	if typ == typeExtended {
		if next >= len(d.buf) {
			return 0, 0, 0, errShort
		}
		typ, next = 7+int(d.buf[next]), next+1
	}
	size = int(c & 0x1F)
	if size >= 29 {
		n := size - 28 // 1, 2 or 3 more bytes
		if next+n > len(d.buf) {
			return 0, 0, 0, errShort
		}
		v := 0
		for _, b := range d.buf[next : next+n] {
			v = v<<8 | int(b)
		}
		size = []int{29, 285, 65821}[n-1] + v
		next += n
	}
	return typ, size, next, nil
}

// pointer decodes a pointer whose control byte is at offset: the target offset and
// the offset after the pointer.
func (d *decoder) pointer(offset, next int) (int, int, error) {
	c := int(d.buf[offset])
	ss, vvv := (c>>3)&3, c&7
	n := ss + 1
	if next+n > len(d.buf) {
		return 0, 0, errShort
	}
	p := d.buf[next : next+n]
	var target int
	switch ss {
	case 0:
		target = vvv<<8 | int(p[0])
	case 1:
		target = (vvv<<16 | int(p[0])<<8 | int(p[1])) + 2048
	case 2:
		target = (vvv<<24 | int(p[0])<<16 | int(p[1])<<8 | int(p[2])) + 526336
	default:
		target = int(binary.BigEndian.Uint32(p))
	}
	return target, next + n, nil
}

func (d *decoder) value(typ, size, next, depth int) (any, int, error) {
	switch typ {
	case typeMap:
		return d.decodeMap(size, next, depth)
	case typeArray:
		return d.decodeArray(size, next, depth)
	case typeBool:
		return size != 0, next, nil
	}
	if next+size > len(d.buf) || next+size < next {
		return nil, 0, errShort
	}
	p, end := d.buf[next:next+size], next+size
	switch typ {
	case typeString:
		return string(p), end, nil
	case typeBytes, typeUint128:
		return append([]byte(nil), p...), end, nil
	case typeDouble:
		if size != 8 {
			return nil, 0, errShort
		}
		return math.Float64frombits(binary.BigEndian.Uint64(p)), end, nil
	case typeFloat:
		if size != 4 {
			return nil, 0, errShort
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(p))), end, nil
	case typeUint16, typeUint32, typeUint64, typeInt32:
		if size > 8 {
			return nil, 0, errShort
		}
		var v uint64
		for _, b := range p {
			v = v<<8 | uint64(b)
		}
		if typ == typeInt32 {
			return int64(int32(uint32(v))), end, nil
		}
		return v, end, nil
	}
	return nil, 0, errType
}

func (d *decoder) decodeMap(size, next, depth int) (any, int, error) {
	if size > len(d.buf) { // each pair takes at least two bytes
		return nil, 0, errShort
	}
	m := make(map[string]any, size)
	for i := 0; i < size; i++ {
		k, after, err := d.decode(next, depth+1)
		if err != nil {
			return nil, 0, err
		}
		key, ok := k.(string)
		if !ok {
			return nil, 0, errors.New("map key is not a string")
		}
		v, after2, err := d.decode(after, depth+1)
		if err != nil {
			return nil, 0, err
		}
		m[key], next = v, after2
	}
	return m, next, nil
}

func (d *decoder) decodeArray(size, next, depth int) (any, int, error) {
	if size > len(d.buf) {
		return nil, 0, errShort
	}
	out := make([]any, 0, size)
	for i := 0; i < size; i++ {
		v, after, err := d.decode(next, depth+1)
		if err != nil {
			return nil, 0, err
		}
		out, next = append(out, v), after
	}
	return out, next, nil
}
