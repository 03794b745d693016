package collector

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/collector/storage"
	"github.com/vantage-probe/vantage/report/ooni"
)

// Export formats (the export's format parameter): "jsonl" (the default) serves
// the signed lines as stored; "ooni" serves each as the bare measurement in
// OONI's shape (report/ooni), one per line, for OONI's tools: unsigned, so
// researchers who need the signatures and the log's proofs pull the signed lines
// (`vantage pull --format ooni` verifies them first and converts locally); "csv"
// serves one row per measurement with its verdict columns (CSVColumns).
const (
	FormatJSONL = "jsonl"
	FormatOONI  = "ooni"
	FormatCSV   = "csv"
)

// exportFmt is how an export writes its lines.
type exportFmt struct {
	conv        func([]byte) ([]byte, error) // nil: the signed line as stored
	contentType string
	header      []byte // written before the first line
}

// exportFormat returns the format named by the format parameter.
func exportFormat(format string) (exportFmt, error) {
	switch format {
	case "", FormatJSONL:
		return exportFmt{contentType: ContentTypeNDJSON}, nil
	case FormatOONI:
		return exportFmt{conv: ooni.FromLine, contentType: ContentTypeNDJSON}, nil
	case FormatCSV:
		h, _ := csvRow(CSVColumns)
		return exportFmt{conv: CSVFromLine, contentType: "text/csv; charset=utf-8; header=present", header: append(h, '\n')}, nil
	}
	return exportFmt{}, &paramError{param: "format", msg: `want "jsonl", "ooni" or "csv"`}
}

// CSVColumns are the columns of the CSV export, in order. ooni_blocking and
// ooni_accessible are OONI's view of a web_connectivity verdict (report/ooni),
// empty for other tests; null values are empty cells.
var CSVColumns = []string{"measurement_uid", "probe_id", "probe_cc", "probe_asn", "probe_network_name",
	"test_name", "input", "measurement_start_time", "report_id", "software_version", "test_version",
	"verdict", "method", "reason", "ooni_blocking", "ooni_accessible"}

// CSVFromLine turns a signed line into one CSV row (RFC 4180 quoting, no newline).
// Cells are the measurement's values as they are: a spreadsheet user should
// import them as text, since a probe chose the input's bytes.
func CSVFromLine(line []byte) ([]byte, error) {
	var env report.Signed
	if err := json.Unmarshal(line, &env); err != nil {
		return nil, fmt.Errorf("csv: not a signed line: %w", err)
	}
	// Read leniently: only the indexed fields' shapes are checked at ingest, and
	// a probe's odd value in another field must not break the export for all.
	var m map[string]any
	if err := json.Unmarshal(env.Measurement, &m); err != nil {
		return nil, fmt.Errorf("csv: measurement %s: %w", env.MeasurementUID, err)
	}
	tk, _ := m["test_keys"].(map[string]any)
	str := func(obj map[string]any, k string) string { v, _ := obj[k].(string); return v }
	var blocking, accessible string
	if str(m, "test_name") == "web_connectivity" {
		b, a := ooni.BlockingFor(str(tk, "verdict"), str(tk, "method"))
		blocking, accessible = cell(b), cell(a)
	}
	return csvRow([]string{env.MeasurementUID, env.ProbeID, str(m, "probe_cc"), str(m, "probe_asn"), str(m, "probe_network_name"),
		str(m, "test_name"), str(m, "input"), str(m, "measurement_start_time"), str(m, "report_id"), str(m, "software_version"),
		str(m, "test_version"), str(tk, "verdict"), str(tk, "method"), str(tk, "reason"), blocking, accessible})
}

func cell(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func csvRow(cells []string) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(cells); err != nil {
		return nil, err
	}
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), w.Error()
}

// nextURL is the request's URL with cursor set to next (relative, as
// measurement_url is).
func nextURL(r *http.Request, next string) *string {
	q := r.URL.Query()
	q.Set("cursor", next)
	u := r.URL.Path + "?" + q.Encode()
	return &u
}

// writeAggregateCSV writes aggregate buckets as CSV: one column per axis, then
// count; null keys are empty cells. A truncated answer says so in the header
// Vantage-Aggregate-Truncated.
func writeAggregateCSV(w http.ResponseWriter, by []storage.Axis, rows []map[string]any, truncated bool) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8; header=present")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Vantage-Aggregate-Truncated", fmt.Sprint(truncated))
	cw := csv.NewWriter(w)
	head := make([]string, 0, len(by)+1)
	for _, a := range by {
		head = append(head, string(a))
	}
	cw.Write(append(head, "count"))
	for _, r := range rows {
		rec := make([]string, 0, len(by)+1)
		for _, a := range by {
			rec = append(rec, cell(r[string(a)]))
		}
		cw.Write(append(rec, fmt.Sprint(r["count"])))
	}
	cw.Flush()
}
