package testlists

import (
	"context"
	"hash/maphash"
	"io"
	"strings"
)

// ReadURLs streams a list (Scan) and returns its URLs in order, the first of
// each only, and only those of the given category codes (all when none). It keeps
// one string per distinct URL and a small index, nothing else of the file. It
// stops with ctx's error when ctx is done (a million lines take seconds).
func ReadURLs(ctx context.Context, r io.Reader, name string, codes []string) ([]string, error) {
	want, err := wantedCodes(codes)
	if err != nil {
		return nil, err
	}
	var set URLSet
	n := 0
	err = Scan(r, name, func(e Entry) error {
		if n++; n%cancelCheckEvery == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if want != nil && !want[strings.ToUpper(e.CategoryCode)] {
			return nil
		}
		set.Add(strings.Clone(e.URL)) // a copy: not the CSV record it was cut from
		return nil
	})
	if err != nil {
		return nil, err
	}
	return set.List(), nil
}

// cancelCheckEvery is how many entries ReadURLs reads between two looks at its
// context: a few milliseconds of parsing.
const cancelCheckEvery = 4096

// URLSet keeps strings in the order they were first added, each once. It indexes
// them by a 64-bit hash rather than by the strings themselves, which costs about
// 12 bytes per entry instead of a second copy of every key header and string; a
// hash shared by two different strings is resolved exactly by a side table.
type URLSet struct {
	seed  maphash.Seed
	list  []string
	index map[uint64]int32
	clash map[string]struct{} // strings whose hash an earlier, different one holds
}

// Add adds s unless it is already in the set, and reports whether it did.
func (u *URLSet) Add(s string) bool {
	if u.index == nil {
		u.seed, u.index = maphash.MakeSeed(), make(map[uint64]int32)
	}
	h := maphash.String(u.seed, s)
	i, taken := u.index[h]
	switch {
	case !taken:
		u.index[h] = int32(len(u.list))
	case u.list[i] == s:
		return false
	default:
		if _, dup := u.clash[s]; dup {
			return false
		}
		if u.clash == nil {
			u.clash = make(map[string]struct{})
		}
		u.clash[s] = struct{}{}
	}
	u.list = append(u.list, s)
	return true
}

// List returns the strings in the order they were first added.
func (u *URLSet) List() []string { return u.list }
