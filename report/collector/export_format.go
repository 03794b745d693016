package collector

import (
	"github.com/vantage-probe/vantage/report/ooni"
)

// Export formats (the export's format parameter): "jsonl" (the default) serves
// the signed lines as stored; "ooni" serves each as the bare measurement in
// OONI's shape (report/ooni), one per line, for OONI's tools: unsigned, so
// researchers who need the signatures and the log's proofs pull the signed lines
// (`vantage pull --format ooni` verifies them first and converts locally).
const (
	FormatJSONL = "jsonl"
	FormatOONI  = "ooni"
)

// exportFormat returns the conversion of the format parameter (nil: none).
func exportFormat(format string) (func([]byte) ([]byte, error), error) {
	switch format {
	case "", FormatJSONL:
		return nil, nil
	case FormatOONI:
		return ooni.FromLine, nil
	}
	return nil, &paramError{param: "format", msg: `want "jsonl" or "ooni"`}
}
