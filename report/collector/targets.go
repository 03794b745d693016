package collector

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
)

// ErrNoTargets is returned by a Targets source that has no list for a nettest.
var ErrNoTargets = errors.New("collector: no target list for this nettest")

// Targets returns the target list (JSON, the format of the nettests'
// data/targets.json) of a messaging or circumvention nettest ("whatsapp").
// Package report knows no nettest: cmd/vantage hands the collector the embedded
// lists (nettests/registry).
type Targets func(nettest string) ([]byte, error)

// DirTargets serves NETTEST.json files from dir, and falls back to next (which
// may be nil) for a nettest dir has no file for. A file that is not JSON is an
// error, not served: a probe would only throw it away.
func DirTargets(dir string, next Targets) Targets {
	return func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if errors.Is(err, os.ErrNotExist) {
			if next != nil {
				return next(name)
			}
			return nil, ErrNoTargets
		}
		if err != nil {
			return nil, fmt.Errorf("collector: targets %s: %w", name, err)
		}
		if !json.Valid(b) {
			return nil, fmt.Errorf("collector: targets %s: %s is not JSON", name, filepath.Join(dir, name+".json"))
		}
		return b, nil
	}
}

// nettestName is what a test_name looks like; anything else never reaches a
// Targets source (so no path outside the directory).
var nettestName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

func (s *Server) handleTargets(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("nettest")
	if !nettestName.MatchString(name) {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "want a nettest name (lowercase letters, digits, _)", Param: "nettest"})
		return
	}
	if s.targets == nil {
		writeError(w, http.StatusNotFound, "this collector serves no target lists", nil)
		return
	}
	b, err := s.targets(name)
	if errors.Is(err, ErrNoTargets) {
		writeError(w, http.StatusNotFound, "no target list for "+name, nil)
		return
	}
	if err != nil {
		s.log.Error("target list", "nettest", name, "err", err)
		writeError(w, http.StatusInternalServerError, "target list unavailable", nil)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(b)
}
