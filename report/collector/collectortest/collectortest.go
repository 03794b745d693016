// Package collectortest provides test doubles for code that talks to a collector: a
// real collector on loopback over a throwaway database (sqlite or PostgreSQL), and
// probes that sign test measurements.
package collectortest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/storage"
)

// Backends a test can run against.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Backends lists every storage backend, for tests that run one table on each.
var Backends = []string{SQLite, Postgres}

// DefaultPostgresURL is the database .ci/services creates; VANTAGE_TEST_PG overrides it.
const DefaultPostgresURL = "postgres:///vantage_test?host=/var/run/postgresql"

// pgConnectTimeout keeps a missing PostgreSQL from slowing the test run: the server
// is local, so it answers in milliseconds or not at all.
const pgConnectTimeout = "2"

// PostgresURL returns the test database URL.
func PostgresURL() string {
	if u := os.Getenv("VANTAGE_TEST_PG"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// OpenDB opens an empty, migrated store for the test and closes it at cleanup. On
// PostgreSQL every call gets its own schema, dropped at cleanup, so tests never see
// each other's rows; when PostgreSQL is not reachable the test is skipped.
func OpenDB(t testing.TB, backend string) *storage.DB {
	t.Helper()
	ctx := context.Background()
	var dbURL string
	switch backend {
	case SQLite:
		dbURL = filepath.Join(t.TempDir(), "collector.db")
	case Postgres:
		dbURL = PostgresSchemaURL(t)
	default:
		t.Fatalf("collectortest: unknown backend %q", backend)
	}
	db, err := storage.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("collectortest: open %s: %v", backend, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresSchemaURL creates a fresh, empty schema in the test database, dropped at
// cleanup, and returns a URL whose connections use it; it skips the test when
// PostgreSQL is not reachable.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(PostgresURL())
	if err != nil {
		t.Fatalf("collectortest: VANTAGE_TEST_PG: %v", err)
	}
	q := u.Query()
	q.Set("connect_timeout", pgConnectTimeout)
	u.RawQuery = q.Encode()
	admin, err := sql.Open("pgx", u.String())
	if err == nil {
		err = admin.Ping()
	}
	if err != nil {
		t.Skipf("PostgreSQL not reachable at %s (%v): run .ci/services as root, or set VANTAGE_TEST_PG", PostgresURL(), err)
	}
	schema := "vantage_test_" + randomHex(8)
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("collectortest: create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Collector is a collector serving on loopback for one test.
type Collector struct {
	URL    string // base URL, no trailing slash
	DB     *storage.DB
	Server *collector.Server
}

// New starts a collector on a fresh store of the given backend, with the
// embedded test lists; it stops at cleanup.
func New(t testing.TB, backend string) *Collector {
	t.Helper()
	return NewWithConfig(t, backend, collector.Config{TestLists: collector.EmbeddedTestLists})
}

// NewWithConfig is New with cfg (its Store is replaced by the fresh one).
func NewWithConfig(t testing.TB, backend string, cfg collector.Config) *Collector {
	t.Helper()
	db := OpenDB(t, backend)
	cfg.Store = db
	srv := collector.NewServer(cfg)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &Collector{URL: hs.URL, DB: db, Server: srv}
}

// Probe signs measurements with its own key, like a real probe's identity.
type Probe struct {
	Private ed25519.PrivateKey
	ID      string
}

// NewProbe returns a probe with a fresh key.
func NewProbe(t testing.TB) *Probe {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("collectortest: key: %v", err)
	}
	return &Probe{Private: priv, ID: report.ProbeID(priv.Public().(ed25519.PublicKey))}
}

// Spec describes a test measurement.
type Spec struct {
	CC, ASN, TestName, Input string
	Start                    time.Time
	Verdict, Method          string // test_keys.verdict and .method; "" is null
}

// NewMeasurement builds a measurement from s with a fresh uid.
func NewMeasurement(s Spec) *report.Measurement {
	tk := map[string]any{"verdict": nullable(s.Verdict), "method": nullable(s.Method)}
	m := &report.Measurement{
		Annotations:          map[string]string{"platform": "linux"},
		MeasurementStartTime: report.FormatTime(s.Start),
		MeasurementUID:       report.NewMeasurementUID(s.Start, s.CC, s.TestName),
		ProbeASN:             s.ASN,
		ProbeCC:              s.CC,
		ReportID:             report.NewReportID(s.Start, s.TestName, s.CC, s.ASN),
		SoftwareVersion:      "test",
		TestKeys:             tk,
		TestName:             s.TestName,
		TestStartTime:        report.FormatTime(s.Start),
		TestVersion:          "0.1.0",
	}
	if s.Input != "" {
		m.Input = &s.Input
	}
	return m
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Sign marshals m canonically and signs it, returning the envelope line.
func (p *Probe) Sign(t testing.TB, m *report.Measurement) []byte {
	t.Helper()
	b, err := report.Marshal(m)
	if err != nil {
		t.Fatalf("collectortest: marshal: %v", err)
	}
	line, err := report.Sign(p.Private, b)
	if err != nil {
		t.Fatalf("collectortest: sign: %v", err)
	}
	return line
}

// SignSpec builds a measurement from s and signs it.
func (p *Probe) SignSpec(t testing.TB, s Spec) []byte {
	t.Helper()
	return p.Sign(t, NewMeasurement(s))
}
