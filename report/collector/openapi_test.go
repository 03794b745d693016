package collector_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vantage-probe/vantage/report/collector/collectortest"
)

// sampleValue is a value the handler accepts for a documented parameter.
var sampleValue = map[string]string{
	"probe_cc": "KZ", "probe_asn": "AS9198", "probe_id": strings.Repeat("a", 32), "test_name": "web_connectivity",
	"input": "https://a.example/", "domain": "a.example", "verdict": "blocked", "method": "dns.nxdomain",
	"since": "2022-01-01", "until": "2022-02-01", "limit": "5", "by": "day,verdict", "order": "count",
	"format": "csv", "size": "0", "from": "0", "to": "0", "uid": "20220105100000.000000_KZ_webconnectivity_0123456789abcdef",
	"cc": "kz", "nettest": "tor", "id": strings.Repeat("a", 32), "cursor": "not-a-cursor", // a 400 naming cursor: the parameter exists
}

// TestOpenAPIDocumentsTheHandlers validates the served document with
// kin-openapi, then calls every documented operation on a real collector with
// every documented parameter: each route must exist and accept each parameter
// (an undocumented or misspelt one is a 400 naming it); and every route the
// collector registers must be documented.
func TestOpenAPIDocumentsTheHandlers(t *testing.T) {
	c := collectortest.New(t, collectortest.SQLite)
	resp, err := http.Get(c.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document does not validate: %v", err)
	}
	registered := []string{"POST /api/v1/measurements", "GET /api/v1/measurements", "GET /api/v1/measurements/{uid}",
		"GET /api/v1/export", "GET /api/v1/aggregate", "GET /api/v1/probes/{id}", "GET /api/v1/testlists/{cc}", "GET /api/v1/targets/{nettest}",
		"GET /api/v1/log/checkpoint", "GET /api/v1/log/key", "GET /api/v1/log/proof/inclusion",
		"GET /api/v1/log/proof/consistency", "GET /api/v1/openapi.json"}
	for _, r := range registered {
		method, path, _ := strings.Cut(r, " ")
		if item := doc.Paths.Find(path); item == nil || item.GetOperation(method) == nil {
			t.Errorf("%s is not documented", r)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if method == http.MethodPost {
				continue // the upload's body is tested in ingest_test.go
			}
			u, q := path, url.Values{}
			for _, p := range append(item.Parameters, op.Parameters...) {
				v, ok := sampleValue[p.Value.Name]
				if !ok {
					t.Errorf("%s %s: no sample value for parameter %s", method, path, p.Value.Name)
					continue
				}
				switch p.Value.In {
				case "path":
					u = strings.ReplaceAll(u, "{"+p.Value.Name+"}", url.PathEscape(v))
				case "query":
					q.Set(p.Value.Name, v)
				}
			}
			if len(q) > 0 {
				u += "?" + q.Encode()
			}
			resp, err := http.Get(c.URL + u)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), "no such API endpoint") || strings.Contains(string(body), "unknown parameter") {
				t.Errorf("%s %s: %d %s", method, u, resp.StatusCode, body)
			}
			if op.Responses.Status(resp.StatusCode) == nil {
				t.Errorf("%s %s: status %d is not documented (%s)", method, u, resp.StatusCode, body)
			}
		}
	}
}
