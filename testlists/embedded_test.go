package testlists

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestEmbeddedListsParseAndUseLegendCodes(t *testing.T) {
	for _, name := range []string{"kz", "global"} {
		entries, ok, err := Embedded(name)
		if err != nil || !ok {
			t.Fatalf("Embedded(%s) = ok %v, err %v", name, ok, err)
		}
		// Row counts of the upstream files at the pinned commit (data/SOURCE.md),
		// counted with `tail -n +2 FILE | wc -l` plus the last line, which has no newline.
		want := map[string]int{"kz": 553, "global": 1722}[name]
		if len(entries) != want {
			t.Errorf("%s: %d entries, want %d", name, len(entries), want)
		}
	}
	if _, ok, _ := Embedded("xx"); ok {
		t.Error("Embedded(xx) found a list that does not exist")
	}
	if got := EmbeddedCountries(); len(got) != 1 || got[0] != "KZ" {
		t.Errorf("EmbeddedCountries = %v, want [KZ]", got)
	}
}

func TestLegend(t *testing.T) {
	if len(Categories()) != 31 {
		t.Errorf("legend has %d codes, want the 31 rows of the new legend", len(Categories()))
	}
	c, ok := Category("news")
	if !ok || c.Code != "NEWS" || c.Name != "News Media" {
		t.Errorf("Category(news) = %+v, %v", c, ok)
	}
	if _, ok := Category("FEXP"); ok {
		t.Error("FEXP is a legacy code replaced by NEWS; it must not validate")
	}
}

func TestForCountryDeduplicatesCountryFirst(t *testing.T) {
	own := []Entry{{URL: "https://4genderjustice.org/", CategoryCode: "NEWS"}, {URL: "https://only.kz.example/", CategoryCode: "GOVT"}}
	got, err := ForCountry("KZ", own)
	if err != nil {
		t.Fatal(err)
	}
	global, _, _ := Embedded("global")
	if len(got) != len(global)+1 {
		t.Fatalf("len = %d, want global (%d) + 1 new", len(got), len(global))
	}
	if got[0].URL != own[0].URL || got[0].CategoryCode != "NEWS" {
		t.Errorf("first entry = %+v: the country's entry must win over the global duplicate", got[0])
	}
	kz, err := ForCountry("KZ", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(kz) != 553+1722 || kz[0].URL != "http://www.akorda.kz/" {
		t.Errorf("ForCountry(KZ) = %d entries starting %q", len(kz), kz[0].URL)
	}
	zz, _ := ForCountry("ZZ", nil)
	if len(zz) != len(global) {
		t.Errorf("ForCountry(ZZ) = %d entries, want the global list alone", len(zz))
	}
}

func TestFilter(t *testing.T) {
	in := []Entry{{URL: "a", CategoryCode: "NEWS"}, {URL: "b", CategoryCode: "GOVT"}, {URL: "c", CategoryCode: "HUMR"}, {URL: "d"}}
	got, err := Filter(in, []string{"news", "HUMR"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(URLs(got), " ") != "a c" {
		t.Errorf("Filter = %v, want [a c]", URLs(got))
	}
	got, _ = Filter(in, []string{"GOVT,NEWS"})
	if strings.Join(URLs(got), " ") != "a b" {
		t.Errorf("comma list: Filter = %v, want [a b]", URLs(got))
	}
	if _, err := Filter(in, []string{"NEWZ"}); err == nil || !strings.Contains(err.Error(), `unknown category "NEWZ"`) {
		t.Errorf("err = %v, want unknown category", err)
	}
	all, _ := Filter(in, nil)
	if len(all) != 4 {
		t.Errorf("no codes must keep everything, got %d", len(all))
	}
}

func TestFetch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/testlists/kz":
			w.Header().Set("Content-Type", "text/csv")
			w.Write([]byte("url,category_code\nhttps://fresh.example/,NEWS\n"))
		case "/api/v1/testlists/bad":
			w.Write([]byte("url,category_code\nnot a url,NEWS\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	got, err := Fetch(context.Background(), srv.Client(), srv.URL+"/", "KZ")
	if err != nil || len(got) != 1 || got[0].URL != "https://fresh.example/" {
		t.Fatalf("Fetch = %+v, %v", got, err)
	}
	if _, err := Fetch(context.Background(), srv.Client(), srv.URL, "XX"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("err = %v, want a 404 error", err)
	}
	if _, err := Fetch(context.Background(), srv.Client(), srv.URL, "BAD"); err == nil || !strings.Contains(err.Error(), "bad url") {
		t.Errorf("err = %v, want a parse error", err)
	}
}
