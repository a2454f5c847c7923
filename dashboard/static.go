package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

// static holds the page: index.html, app.css and app.js, written by hand
// (no build step) and served as they are.
//
//go:embed static
var static embed.FS

// StaticFS returns the page's files, for tests and measurements.
func StaticFS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree always has it
	}
	return sub
}

// contentSecurityPolicy lets the page load only its own files and talk
// only to its own server: no inline script, nothing from elsewhere.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// staticHandler serves the page's files under /ui/.
func staticHandler() http.Handler {
	files := http.StripPrefix("/ui/", http.FileServerFS(StaticFS()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
