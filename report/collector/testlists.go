package collector

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/vantage-probe/vantage/testlists"
)

// ErrNoTestList is returned by a TestLists source that has no list for a country.
var ErrNoTestList = errors.New("collector: no test list for this country")

// TestLists returns the Citizen Lab CSV of a country ("kz") or of "global".
type TestLists func(name string) ([]byte, error)

// DirTestLists serves NAME.csv files from dir (Citizen Lab's lists/ layout), and
// falls back to next (which may be nil) for a name dir does not have.
func DirTestLists(dir string, next TestLists) TestLists {
	return func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name+".csv"))
		if errors.Is(err, os.ErrNotExist) {
			if next != nil {
				return next(name)
			}
			return nil, ErrNoTestList
		}
		if err != nil {
			return nil, fmt.Errorf("collector: test list %s: %w", name, err)
		}
		return b, nil
	}
}

// citizenLabHeader is the header row of Citizen Lab's test-list CSV files
// (github.com/citizenlab/test-lists, lists/*.csv).
var citizenLabHeader = []string{"url", "category_code", "category_description", "date_added", "source", "notes"}

// EmbeddedTestLists serves the lists built into package testlists.
func EmbeddedTestLists(name string) ([]byte, error) {
	entries, ok, err := testlists.Embedded(name)
	if err != nil {
		return nil, fmt.Errorf("collector: embedded test list %s: %w", name, err)
	}
	if !ok {
		return nil, ErrNoTestList
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write(citizenLabHeader)
	for _, e := range entries {
		cw.Write([]string{e.URL, e.CategoryCode, e.CategoryDescription, e.DateAdded, e.Source, e.Notes})
	}
	cw.Flush()
	return buf.Bytes(), cw.Error()
}

func (s *Server) handleTestList(w http.ResponseWriter, r *http.Request) {
	name := strings.ToLower(r.PathValue("cc"))
	if name != "global" && !validCC(strings.ToUpper(name)) {
		writeJSON(w, http.StatusBadRequest, apiError{Error: `want a two-letter country code or "global"`, Param: "cc"})
		return
	}
	if s.testLists == nil {
		writeError(w, http.StatusNotFound, "this collector serves no test lists", nil)
		return
	}
	b, err := s.testLists(name)
	if errors.Is(err, ErrNoTestList) {
		writeError(w, http.StatusNotFound, "no test list for "+name, nil)
		return
	}
	if err != nil {
		s.log.Error("test list", "name", name, "err", err)
		writeError(w, http.StatusInternalServerError, "test list unavailable", nil)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(b)
}
