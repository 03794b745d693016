// Package bench holds the benchmark of a black-holed URL list (see
// blackhole_test.go and docs/cli.md); it has no code of its own.
package bench
