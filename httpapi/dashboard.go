package httpapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"
)

// The dashboard is one page, its script and its style sheet, embedded in
// the binary: it loads nothing from anywhere but the daemon, so it works on
// a machine without Internet access.
//
//go:embed dashboard
var dashboardFiles embed.FS

// dashboardCSP forbids the page any resource that is not the daemon's own.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type dashboardAsset struct {
	name  string
	ctype string
	etag  string
	body  []byte
}

// Dashboard returns the handler of the web dashboard: the page at "/" (and
// "/index.html"), its script at "/dashboard.js" and its style sheet at
// "/dashboard.css"; any other path is 404. Mount it as the catch-all:
//
//	mux.Handle("GET /", httpapi.Dashboard())
//
// The page polls GET api/v1/status (StatusDoc) and GET api/v1/history
// (HistoryDoc, asked with ?since=<t of the newest sample it holds>; a
// server that ignores since and sends everything works too) every second,
// relative to its own URL, so it also works behind a path prefix.
func Dashboard() http.Handler {
	assets := map[string]*dashboardAsset{}
	err := fs.WalkDir(dashboardFiles, "dashboard", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := dashboardFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		name := path.Base(p)
		ctype := mime.TypeByExtension(path.Ext(name))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		a := &dashboardAsset{name: name, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, body: body}
		assets["/"+name] = a
		if name == "index.html" {
			assets["/"] = a
		}
		return nil
	})
	if err != nil {
		panic("httpapi: embedded dashboard: " + err.Error()) // cannot happen: the files are compiled in
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		a, ok := assets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("ETag", a.etag)
		h.Set("Cache-Control", "no-cache") // revalidate: a new binary may bring a new page
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if a.name == "index.html" {
			h.Set("Content-Security-Policy", dashboardCSP)
			h.Set("X-Frame-Options", "DENY")
		}
		http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
	})
}
