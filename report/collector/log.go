package collector

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/vantage-probe/vantage/report/collector/storage"
	"github.com/vantage-probe/vantage/report/translog"
)

// The transparency log's routes (docs/api.md): the signed checkpoint, the
// collector's verifier key, and inclusion and consistency proofs. The log itself
// is kept by storage (log.go there), appended in the ingest transaction.

func (s *Server) handleLogCheckpoint(w http.ResponseWriter, r *http.Request) {
	head, err := s.store.LogHead(r.Context())
	if err != nil {
		s.log.Error("log head failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "storage unavailable, retry later", nil)
		return
	}
	signed, err := s.logKey.Sign(translog.Checkpoint{Origin: s.logKey.Origin(), Size: head.Size, Root: head.Root})
	if err != nil {
		s.log.Error("checkpoint signing failed", "err", err)
		writeError(w, http.StatusInternalServerError, "cannot sign the checkpoint", nil)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(signed)
}

func (s *Server) handleLogKey(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(s.logKey.VerifierKey() + "\n"))
}

func (s *Server) handleInclusionProof(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size, ok := logSizeParam(w, q.Get("size"), "size")
	if !ok {
		return
	}
	uids := q["uid"]
	if len(uids) == 0 || len(uids) > translog.MaxProofUIDs {
		writeParamError(w, "uid", "give 1 to "+strconv.Itoa(translog.MaxProofUIDs)+" uid parameters")
		return
	}
	ans := translog.InclusionAnswer{TreeSize: size, Proofs: make([]translog.InclusionProof, 0, len(uids))}
	for _, uid := range uids {
		idx, err := s.store.LeafIndex(r.Context(), uid)
		if errors.Is(err, storage.ErrNotFound) {
			writeError(w, http.StatusNotFound, "no leaf for measurement_uid "+strconv.Quote(uid), nil)
			return
		}
		if err != nil {
			s.logFailure(w, err)
			return
		}
		hashes, err := s.store.InclusionProof(r.Context(), idx, size)
		if errors.Is(err, storage.ErrBeyondLog) {
			writeParamError(w, "size", "measurement_uid "+strconv.Quote(uid)+" is leaf "+strconv.FormatUint(idx, 10)+
				", not inside a tree of size "+strconv.FormatUint(size, 10)+" (or the log is smaller)")
			return
		}
		if err != nil {
			s.logFailure(w, err)
			return
		}
		ans.Proofs = append(ans.Proofs, translog.InclusionProof{UID: uid, LeafIndex: idx, Hashes: hashes})
	}
	writeJSON(w, http.StatusOK, ans)
}

func (s *Server) handleConsistencyProof(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, ok := logSizeParam(w, q.Get("from"), "from")
	if !ok {
		return
	}
	to, ok := logSizeParam(w, q.Get("to"), "to")
	if !ok {
		return
	}
	hashes, err := s.store.ConsistencyProof(r.Context(), from, to)
	if errors.Is(err, storage.ErrBeyondLog) {
		writeParamError(w, "to", "want from <= to <= the log's size")
		return
	}
	if err != nil {
		s.logFailure(w, err)
		return
	}
	if hashes == nil {
		hashes = [][]byte{}
	}
	writeJSON(w, http.StatusOK, translog.ConsistencyAnswer{From: from, To: to, Hashes: hashes})
}

func (s *Server) logFailure(w http.ResponseWriter, err error) {
	s.log.Error("log proof failed", "err", err)
	writeError(w, http.StatusServiceUnavailable, "storage unavailable, retry later", nil)
}

func logSizeParam(w http.ResponseWriter, v, name string) (uint64, bool) {
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil {
		writeParamError(w, name, name+" must be a tree size (a non-negative integer)")
		return 0, false
	}
	return n, true
}

func writeParamError(w http.ResponseWriter, param, msg string) {
	writeJSON(w, http.StatusBadRequest, apiError{Error: msg, Param: param})
}
