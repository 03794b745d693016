package collector

import (
	"net/http"

	"github.com/vantage-probe/vantage/report/collector/openapi"
)

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openapi.Document)
}
