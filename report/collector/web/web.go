// Package web holds the collector's web page (HTML, script, style and the uPlot
// chart library, embedded in the binary so that nothing is loaded from elsewhere at
// run time).
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the page at "/" and its files under "/static/".
func Handler() http.Handler {
	sub, _ := fs.Sub(static, "static") // "static" is embedded above
	files := http.FileServerFS(sub)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w)
		http.ServeFileFS(w, r, sub, "index.html")
	})
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w)
		files.ServeHTTP(w, r)
	})))
	return mux
}

// setHeaders forbids the page from loading anything but its own files: the chart
// library is embedded, never fetched from a CDN.
func setHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
}
