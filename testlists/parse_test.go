package testlists

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCSVQuotedCommasAndColumns(t *testing.T) {
	in := "url,category_code,category_description,date_added,source,notes\n" +
		"http://www.akorda.kz/,CULTR,Culture,2014-04-15,citizenlab,\n" +
		"https://example.org/a,NEWS,News Media,2020-01-02,me,\"one, two \"\"three\"\"\"\n"
	got, err := ParseCSV(strings.NewReader(in), "t.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d entries, want 2", len(got))
	}
	if got[1].Notes != `one, two "three"` || got[1].CategoryCode != "NEWS" || got[1].DateAdded != "2020-01-02" {
		t.Errorf("second entry = %+v", got[1])
	}
	if got[0].URL != "http://www.akorda.kz/" || got[0].CategoryDescription != "Culture" {
		t.Errorf("first entry = %+v", got[0])
	}
}

func TestParseCSVColumnOrderAndBOM(t *testing.T) {
	in := "\uFEFFcategory_code,url\r\nGOVT,https://gov.example/\r\n"
	got, err := Parse(strings.NewReader(in), "t.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].URL != "https://gov.example/" || got[0].CategoryCode != "GOVT" {
		t.Fatalf("got %+v", got)
	}
}

func TestParseErrorsNameFileLineAndProblem(t *testing.T) {
	const header = "url,category_code,category_description,date_added,source,notes\n"
	cases := []struct {
		name, in string
		line     int
		want     string
	}{
		{"bad scheme", header + "http://a.example/,NEWS,N,d,s,\nftp://b.example/,NEWS,N,d,s,\n", 3, `bad url "ftp://b.example/"`},
		{"no host", header + "https:///path,NEWS,N,d,s,\n", 2, "no host"},
		{"missing column", header + "http://a.example/,NEWS,N\n", 2, `missing column "date_added"`},
		{"extra column", header + "http://a.example/,NEWS,N,d,s,x,y\n", 2, "7 columns"},
		{"unknown category", header + "http://a.example/,NOPE,N,d,s,\n", 2, `unknown category_code "NOPE"`},
		{"empty category", header + "http://a.example/,,N,d,s,\n", 2, "missing category_code"},
		{"no url column", "link,category_code\nhttp://a.example/,NEWS\n", 1, `no "url" column`},
		{"unterminated quote", header + "http://a.example/,NEWS,\"N,d,s,\n", 2, "quote"},
		{"header only", header, 0, "no URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseCSV(strings.NewReader(c.in), "list.csv")
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if pe.File != "list.csv" || pe.Line != c.line || !strings.Contains(pe.Msg, c.want) {
				t.Fatalf("err = %q (line %d), want line %d and %q", err, pe.Line, c.line, c.want)
			}
			if c.line > 0 && !strings.Contains(err.Error(), "list.csv:") {
				t.Errorf("message %q does not name file:line", err)
			}
		})
	}
}

func TestParsePlain(t *testing.T) {
	in := "# my list\n\nhttps://a.example/\n  http://b.example/path?q=1#frag  \n# end\n"
	got, err := Parse(strings.NewReader(in), "plain.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].URL != "https://a.example/" || got[1].URL != "http://b.example/path?q=1#frag" {
		t.Fatalf("got %+v", got)
	}
	if got[0].CategoryCode != "" {
		t.Errorf("plain entries have no category, got %q", got[0].CategoryCode)
	}
	_, err = Parse(strings.NewReader("https://a.example/\nexample.org\n"), "plain.txt")
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 2 || !strings.Contains(pe.Msg, `bad url "example.org"`) {
		t.Fatalf("err = %v, want line 2 bad url", err)
	}
	_, err = Parse(strings.NewReader("# only comments\n"), "empty.txt")
	if err == nil || !strings.Contains(err.Error(), "no URL") {
		t.Fatalf("err = %v, want empty-list error", err)
	}
}

func TestParsePlainRejectsHugeLine(t *testing.T) {
	_, err := ParsePlain(strings.NewReader("https://a.example/"+strings.Repeat("x", maxLineBytes+10)+"\n"), "big")
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("err = %v, want a line-too-long error", err)
	}
}

// FuzzParseCSV checks that no input panics the parser and that whatever it accepts
// holds only valid URLs and known categories.
func FuzzParseCSV(f *testing.F) {
	f.Add([]byte("url,category_code,category_description,date_added,source,notes\nhttp://a.example/,NEWS,N,2020-01-01,s,\"a, b\"\n"))
	f.Add([]byte("category_code,url\r\nGOVT,https://x/\r\n"))
	f.Add([]byte("url,category_code\n\"http://a\nb/\",NEWS\n"))
	f.Add([]byte("\uFEFFurl,category_code\nhttps://a.example/,news\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		entries, err := ParseCSV(strings.NewReader(string(in)), "fuzz")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		for _, e := range entries {
			if CheckURL(e.URL) != nil {
				t.Fatalf("accepted bad url %q", e.URL)
			}
			if _, ok := Category(e.CategoryCode); !ok {
				t.Fatalf("accepted unknown category %q", e.CategoryCode)
			}
		}
	})
}
