package storage_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/report/collector/storage"
	"github.com/vantage-probe/vantage/report/sqlitedb"
)

func TestReadyNeedsTheSchemaThisBuildKnows(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := storage.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ready(ctx); err != nil {
		t.Fatalf("ready after open: %v", err)
	}
	db.Close()
	// A newer build migrated the database further: this one must not say ready.
	raw, err := sql.Open(sqlitedb.DriverName, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, storage.SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err = storage.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ready(ctx); err == nil || !strings.Contains(err.Error(), "schema version") {
		t.Errorf("ready with a newer schema: %v, want an error naming the schema version", err)
	}
}
