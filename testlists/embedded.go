package testlists

import (
	"bytes"
	"embed"
	"encoding/csv"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"

	"github.com/vantage-probe/vantage/report/limits"
)

// data holds Citizen Lab's lists and legend, unmodified, under CC BY-NC-SA 4.0
// (data/LICENSE, data/SOURCE.md): data, licensed apart from the code.
//
//go:embed data/*.csv data/LICENSE data/SOURCE.md
var data embed.FS

// Attribution is the credit the lists' licence asks for; show it wherever the lists
// are shown.
const Attribution = "Test lists: Citizen Lab and Others, URL testing lists, https://github.com/citizenlab/test-lists (CC BY-NC-SA 4.0)"

// legendFile is Citizen Lab's current category legend; the 2015 legend lacks codes
// that today's lists use (NEWS, ECON, CULTR, ...), so it is not embedded.
const legendFile = "data/00-LEGEND-new_category_codes.csv"

// CategoryInfo describes one category code of the legend.
type CategoryInfo struct {
	Code        string
	Name        string
	Description string
}

var legend = sync.OnceValue(loadLegend)

func loadLegend() map[string]CategoryInfo {
	raw, err := data.ReadFile(legendFile)
	if err != nil {
		return map[string]CategoryInfo{}
	}
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		return map[string]CategoryInfo{}
	}
	out := make(map[string]CategoryInfo, len(recs))
	for _, r := range recs[1:] { // columns: Category Description,New Code,Replaces old code(s),Description
		if len(r) >= 4 {
			out[strings.TrimSpace(r[1])] = CategoryInfo{Code: strings.TrimSpace(r[1]), Name: r[0], Description: strings.TrimSpace(r[3])}
		}
	}
	return out
}

// Category looks a code up in the legend (case-insensitively).
func Category(code string) (CategoryInfo, bool) {
	c, ok := legend()[strings.ToUpper(strings.TrimSpace(code))]
	return c, ok
}

// Categories lists the legend, sorted by code.
func Categories() []CategoryInfo {
	out := make([]CategoryInfo, 0, len(legend()))
	for _, c := range legend() {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// Embedded returns the embedded list of a country ("kz") or "global"; ok is false
// when there is none.
func Embedded(name string) (entries []Entry, ok bool, err error) {
	file := "data/" + strings.ToLower(name) + ".csv"
	raw, err := data.ReadFile(file)
	if err != nil {
		return nil, false, nil
	}
	entries, err = ParseCSV(bytes.NewReader(raw), "embedded "+file)
	return entries, true, err
}

// EmbeddedCountries lists the country codes with an embedded list.
func EmbeddedCountries() []string {
	var out []string
	files, _ := fs.Glob(data, "data/??.csv")
	for _, f := range files {
		out = append(out, strings.ToUpper(strings.TrimSuffix(strings.TrimPrefix(f, "data/"), ".csv")))
	}
	return out
}

// ForCountry returns the default list for a country: its own list (embedded, or
// countryList when the caller fetched a fresher one) followed by the global list,
// without duplicates. A country with no list gets the global list alone.
func ForCountry(cc string, countryList []Entry) ([]Entry, error) {
	if countryList == nil {
		own, _, err := Embedded(cc)
		if err != nil {
			return nil, err
		}
		countryList = own
	}
	global, _, err := Embedded("global")
	if err != nil {
		return nil, err
	}
	return Dedupe(append(append([]Entry{}, countryList...), global...)), nil
}

// Dedupe keeps the first entry of each URL, in order.
func Dedupe(entries []Entry) []Entry {
	seen := make(map[string]bool, len(entries))
	out := entries[:0:0]
	for _, e := range entries {
		if seen[e.URL] {
			continue
		}
		seen[e.URL] = true
		out = append(out, e)
	}
	return out
}

// Filter keeps the entries whose category is one of codes (case-insensitive); no
// codes keeps everything. An unknown code is an error, so that a typo does not
// silently select nothing.
func Filter(entries []Entry, codes []string) ([]Entry, error) {
	if len(codes) == 0 {
		return entries, nil
	}
	want, err := wantedCodes(codes)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, e := range entries {
		if want[strings.ToUpper(e.CategoryCode)] {
			out = append(out, e)
		}
	}
	return out, nil
}

// wantedCodes is the set of category codes named in codes (each may be a
// comma-separated list); nil when codes is empty (every category).
func wantedCodes(codes []string) (map[string]bool, error) {
	if len(codes) == 0 {
		return nil, nil
	}
	want := make(map[string]bool, len(codes))
	for _, c := range codes {
		for _, part := range strings.Split(c, ",") {
			info, ok := Category(part)
			if !ok {
				return nil, fmt.Errorf("testlists: unknown category %s (known: %s)", limits.Quote(strings.TrimSpace(part)), knownCodes())
			}
			want[info.Code] = true
		}
	}
	return want, nil
}

func knownCodes() string {
	var codes []string
	for _, c := range Categories() {
		codes = append(codes, c.Code)
	}
	return strings.Join(codes, ", ")
}

// URLs returns the URLs of entries, in order.
func URLs(entries []Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.URL
	}
	return out
}
