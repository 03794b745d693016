package testlists

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/report/limits"
)

// zeros is an endless stream of NUL bytes, like /dev/zero, that counts what was
// read from it.
type zeros struct{ read int64 }

func (z *zeros) Read(p []byte) (int, error) {
	clear(p)
	z.read += int64(len(p))
	return len(p), nil
}

// generatedList yields n plain lines ("https://site<i>.example/path") without
// holding them, then the tail.
type generatedList struct {
	n, i int
	tail string
	buf  []byte
}

func (g *generatedList) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.i < g.n {
		g.buf = fmt.Appendf(g.buf, "https://site%d.example/some/path\n", g.i)
		g.i++
	}
	if g.i == g.n && g.tail != "" {
		g.buf, g.tail = append(g.buf, g.tail...), ""
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// heapGrowth runs f and returns how much the heap obtained from the OS grew
// (runtime.MemStats.HeapSys), a bound on the peak of what f held.
func heapGrowth(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	if after.HeapSys < before.HeapSys {
		return 0
	}
	return after.HeapSys - before.HeapSys
}

func TestScanOfAnEndlessFileWithoutNewlineStopsAtTheLineBound(t *testing.T) {
	z := &zeros{}
	var err error
	grew := heapGrowth(func() { err = Scan(z, "/dev/zero", func(Entry) error { return nil }) })
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != "/dev/zero" || pe.Line != 1 || !strings.Contains(pe.Msg, "longer than 65536 bytes") {
		t.Fatalf("Scan(/dev/zero) = %v", err)
	}
	if z.read > 1<<20 {
		t.Errorf("read %d bytes of an endless file before failing, want at most 1 MiB", z.read)
	}
	if grew > 16<<20 {
		t.Errorf("the heap grew by %d bytes, want < 16 MiB", grew)
	}
	t.Logf("/dev/zero: read %d bytes, heap grew %d bytes", z.read, grew)
}

func TestScanFailsFastOnTheFirstBadLine(t *testing.T) {
	// A million good lines after the bad one: Scan must stop at line 3.
	g := &generatedList{n: 1_000_000}
	r := io.MultiReader(strings.NewReader("# list\nhttps://ok.example/\nexample.org/no-scheme\n"), g)
	n := 0
	err := Scan(r, "big.txt", func(Entry) error { n++; return nil })
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 3 || n != 1 {
		t.Fatalf("Scan = %v after %d entries, want line 3 after 1", err, n)
	}
	if g.i > 10_000 {
		t.Errorf("generated %d lines after the bad one, want Scan to stop reading", g.i)
	}
}

func TestScanOfAMillionLinesKeepsTheHeapFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("a million lines")
	}
	g := &generatedList{n: 1_000_000}
	n := 0
	var err error
	grew := heapGrowth(func() { err = Scan(g, "million.txt", func(Entry) error { n++; return nil }) })
	if err != nil || n != 1_000_000 {
		t.Fatalf("Scan = %v after %d entries", err, n)
	}
	// The file is 37 MB; Parse used to hold it twice and every entry besides.
	if grew > 32<<20 {
		t.Errorf("the heap grew by %d bytes while streaming a million lines, want < 32 MiB", grew)
	}
	t.Logf("1,000,000 lines streamed, heap grew %d bytes", grew)
}

func TestCSVIsDetectedFromTheFirstLinesOnly(t *testing.T) {
	// A CSV header after comments, then an endless body: the format is decided at
	// the header and the first rows are delivered before the end is read.
	head := "\uFEFF\n# exported\nurl,category_code\nhttps://a.example/,NEWS\nhttps://b.example/,HUMR\n"
	stop := errors.New("stop")
	var got []Entry
	err := Scan(io.MultiReader(strings.NewReader(head), &zeros{}), "l.csv", func(e Entry) error {
		got = append(got, e)
		if len(got) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || len(got) != 2 || got[1].CategoryCode != "HUMR" {
		t.Fatalf("Scan = %v, %+v", err, got)
	}
	// An unterminated quote does not fill memory.
	err = Scan(io.MultiReader(strings.NewReader("url,category_code\n\"https://x.example/"), &zeros{}), "q.csv", func(Entry) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("unterminated quote: %v", err)
	}
}

func TestOverLongURLIsRefusedWithTheSharedLimit(t *testing.T) {
	long := "https://example.org/" + strings.Repeat("a", 9018-len("https://example.org/"))
	for _, list := range []string{long + "\n", "url,category_code\n" + long + ",NEWS\n"} {
		_, err := Parse(strings.NewReader(list), "l")
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("url is 9018 bytes, longer than the limit of %d shared with the collector", limits.MaxInputBytes)) {
			t.Fatalf("9,018-byte URL: %v", err)
		}
		if len(err.Error()) > 200 {
			t.Errorf("the error quotes too much of the URL (%d bytes)", len(err.Error()))
		}
	}
	atBound := "https://example.org/" + strings.Repeat("a", limits.MaxInputBytes-len("https://example.org/"))
	if _, err := Parse(strings.NewReader(atBound+"\n"), "l"); err != nil {
		t.Fatalf("a URL of exactly %d bytes is refused: %v", limits.MaxInputBytes, err)
	}
}

func TestReadURLsFiltersAndDedupes(t *testing.T) {
	list := "url,category_code\nhttps://a.example/,NEWS\nhttps://b.example/,HUMR\nhttps://a.example/,NEWS\nhttps://c.example/,NEWS\n"
	got, err := ReadURLs(context.Background(), strings.NewReader(list), "l.csv", []string{"news"})
	if err != nil || strings.Join(got, " ") != "https://a.example/ https://c.example/" {
		t.Fatalf("ReadURLs = %v, %v", got, err)
	}
	if _, err := ReadURLs(context.Background(), strings.NewReader(list), "l.csv", []string{"NOPE"}); err == nil {
		t.Fatal("an unknown category is accepted")
	}
}

func TestURLSetResolvesHashClashesExactly(t *testing.T) {
	var s URLSet
	s.Add("a")
	// Force a clash: point "b"'s hash at "a"'s index.
	s.index[maphash64(&s, "b")] = 0
	if !s.Add("b") || s.Add("b") || s.Add("a") || !s.Add("c") {
		t.Fatal("a clash lost or duplicated a string")
	}
	if got := strings.Join(s.List(), ","); got != "a,b,c" {
		t.Fatalf("List = %s", got)
	}
}

func TestReadURLsStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g := &generatedList{n: 1_000_000}
	if _, err := ReadURLs(ctx, g, "million.txt", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadURLs with a cancelled context = %v", err)
	}
	if g.i > 2*cancelCheckEvery+1000 {
		t.Errorf("read %d lines after the cancellation, want at most about %d", g.i, cancelCheckEvery)
	}
}
