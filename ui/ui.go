package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed templates/*.html templates/parts/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Static returns the static assets (CSS, small scripts) served under /static/.
func Static() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	return http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
}

// Renderer renders page templates, each wrapped in layout.html.
// Every page file defines "title" and "content"; it may define "head" and
// use the shared templates of templates/parts.
type Renderer struct {
	pages map[string]*template.Template
}

// New parses every template at start-up, so a missing or broken template
// stops the server instead of failing a user later.
func New() (*Renderer, error) {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	// parts/ holds named templates several pages share.
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts/*.html")
	if err != nil {
		return nil, fmt.Errorf("ui: layout: %w", err)
	}
	r := &Renderer{pages: map[string]*template.Template{}}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("ui: %s: %w", name, err)
		}
		r.pages[name] = t
	}
	return r, nil
}

// Has reports whether page exists; callers check their pages at start-up.
func (r *Renderer) Has(page string) bool { _, ok := r.pages[page]; return ok }

// Render writes page with data. It renders into a buffer first so a template
// error never leaves half a page on the wire.
func (r *Renderer) Render(w io.Writer, page string, data any) error {
	t, ok := r.pages[page]
	if !ok {
		return fmt.Errorf("ui: no page %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
		return fmt.Errorf("ui: render %s: %w", page, err)
	}
	_, err := buf.WriteTo(w)
	return err
}

var funcs = template.FuncMap{
	// field fetches a named value from a map[string]string, "" when absent.
	"field": func(m map[string]string, k string) string { return m[k] },
	// pngData lets a PNG data URL (a QR code made by the server) through
	// html/template's URL filter, which otherwise turns every data: URL
	// into "#ZgotmplZ"; anything else stays filtered.
	"pngData": func(s string) template.URL {
		if strings.HasPrefix(s, "data:image/png;base64,") && !strings.ContainsAny(s, "\"'<> ") {
			return template.URL(s) // #nosec G203 -- only a data:image/png;base64 URL without quotes, angle brackets or spaces gets here
		}
		return template.URL("#")
	},
}
