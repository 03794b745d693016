package storage

import (
	"strconv"
	"strings"
)

// dialect holds what differs between sqlite and PostgreSQL. Everything else, queries
// and migrations included, is written once in the SQL both understand.
type dialect struct {
	name string
	// types substitutes the {{name}} placeholders of the migrations.
	types map[string]string
	// numbered placeholders ($1, $2, ...) instead of "?".
	numbered bool
	// lockMigrations runs inside the migration transaction so that two collectors
	// starting together against one database do not both migrate it.
	lockMigrations string
}

var sqliteDialect = &dialect{
	name: "sqlite",
	types: map[string]string{
		"id":   "INTEGER PRIMARY KEY", // the rowid: cheapest key and join in sqlite
		"blob": "BLOB",
	},
}

var postgresDialect = &dialect{
	name: "postgres",
	types: map[string]string{
		"id":   "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
		"blob": "BYTEA",
	},
	numbered: true,
	// An arbitrary constant key shared by every vantage collector.
	lockMigrations: "SELECT pg_advisory_xact_lock(7305417)",
}

// q rewrites a query written with "?" placeholders for this dialect. Queries never
// contain a literal "?" elsewhere: values are always bound parameters.
func (d *dialect) q(query string) string {
	if !d.numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ddl substitutes the {{type}} placeholders of a migration.
func (d *dialect) ddl(stmt string) string {
	for k, v := range d.types {
		stmt = strings.ReplaceAll(stmt, "{{"+k+"}}", v)
	}
	return stmt
}
