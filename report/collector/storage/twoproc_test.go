package storage_test

import (
	"database/sql"
	"os"
	"os/exec"
	"testing"

	"github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/collector/storage"
)

// childDBEnv names the database a child process of
// TestTwoProcessesMigrateOneDatabaseOnce opens.
const childDBEnv = "VANTAGE_STORAGE_CHILD_DB"

// TestOpenInChildProcess is the child: it opens (and so migrates) the database
// and exits. It does nothing when run as a test of its own.
func TestOpenInChildProcess(t *testing.T) {
	dbURL := os.Getenv(childDBEnv)
	if dbURL == "" {
		t.Skip("the child of TestTwoProcessesMigrateOneDatabaseOnce")
	}
	db, err := storage.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("child open: %v", err)
	}
	db.Close()
}

// Two collector processes starting at once against one fresh PostgreSQL schema
// both come up, and the schema is migrated once: the advisory lock serialises
// them across processes, not only across one process's connections.
func TestTwoProcessesMigrateOneDatabaseOnce(t *testing.T) {
	dbURL := collectortest.PostgresSchemaURL(t) // skips without PostgreSQL
	const n = 2
	cmds := make([]*exec.Cmd, n)
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestOpenInChildProcess$", "-test.count=1")
		cmds[i].Env = append(os.Environ(), childDBEnv+"="+dbURL)
	}
	outs := make([][]byte, n)
	errs := make([]error, n)
	done := make(chan int, n)
	for i, c := range cmds {
		go func() { outs[i], errs[i] = c.CombinedOutput(); done <- i }()
	}
	for range n {
		<-done
	}
	for i := range n {
		if errs[i] != nil {
			t.Errorf("process %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	raw, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var rows, versions int
	if err := raw.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != storage.SchemaVersion() || versions != rows {
		t.Errorf("schema_migrations has %d rows (%d versions), want each of the %d versions once", rows, versions, storage.SchemaVersion())
	}
}
