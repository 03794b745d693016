// Package openapi holds the collector API's OpenAPI 3 document, served at
// /api/v1/openapi.json and checked against the real handlers by the collector's
// tests.
package openapi

import _ "embed"

// Document is the OpenAPI 3 document (JSON).
//
//go:embed openapi.json
var Document []byte
