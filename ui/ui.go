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
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/latchkeyid/latchkey/ui/i18n"
)

//go:embed templates/*.html templates/parts/*.html templates/app/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Static returns the static assets (CSS, small scripts) served under
// /static/, and the Authenticator web app's page and messages, which are
// rendered for the request's language.
func Static() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.FileServer(http.FS(sub))
	return http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !serveApp(w, r, r.URL.Path) {
			files.ServeHTTP(w, r)
		}
	}))
}

// Renderer renders page templates, each wrapped in layout.html.
// Every page file defines "title" and "content"; it may define "head" and
// use the shared templates of templates/parts.
type Renderer struct {
	pages map[string]*page
	brand Brand
}

// page keeps a parsed template that is never executed, and a pool of
// executed clones: html/template cannot clone a template once it ran, and
// each clone's translation functions are bound to the request it renders.
type page struct {
	master *template.Template
	pool   sync.Pool // of *instance
}

type instance struct {
	t   *template.Template
	req *request
}

// request is what the translation functions of one clone see while it
// renders.
type request struct {
	l     *i18n.Localizer
	r     *http.Request
	brand string // the product name every message may use as {{.Brand}}
}

func (p *page) get() *instance {
	if in, ok := p.pool.Get().(*instance); ok {
		return in
	}
	req := &request{}
	t := template.Must(p.master.Clone()).Funcs(req.funcs())
	return &instance{t: t, req: req}
}

// New parses every template and catalog at start-up, so a missing or broken
// one stops the server instead of failing a user later.
func New(opts ...Option) (*Renderer, error) {
	r := &Renderer{pages: map[string]*page{}}
	for _, o := range opts {
		o(r)
	}
	if err := i18n.Check(); err != nil {
		return nil, err
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	// parts/ holds named templates several pages share.
	layout, err := template.New("layout.html").Funcs(funcs).Funcs((&request{}).funcs()).
		Funcs(template.FuncMap{"brand": func() Brand { return r.brand }}).
		ParseFS(templateFS, "templates/layout.html", "templates/parts/*.html")
	if err != nil {
		return nil, fmt.Errorf("ui: layout: %w", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("ui: %s: %w", name, err)
		}
		r.pages[name] = &page{master: t}
	}
	return r, nil
}

// Has reports whether page exists; callers check their pages at start-up.
func (r *Renderer) Has(page string) bool { _, ok := r.pages[page]; return ok }

// Render writes page with data, in the language and time zone chosen for
// req (i18n.Choose; English for a nil req). It renders into a buffer first
// so a template error never leaves half a page on the wire.
func (r *Renderer) Render(w io.Writer, req *http.Request, name string, data any) error {
	p, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("ui: no page %q", name)
	}
	in := p.get()
	in.req.l, in.req.r, in.req.brand = i18n.Choose(req), req, r.brand.ProductName()
	var buf bytes.Buffer
	err := in.t.ExecuteTemplate(&buf, "layout.html", data)
	in.req.l, in.req.r, in.req.brand = nil, nil, ""
	p.pool.Put(in)
	if err != nil {
		return fmt.Errorf("ui: render %s: %w", name, err)
	}
	_, err = buf.WriteTo(w)
	return err
}

// Choice is one entry of the language picker.
type Choice struct {
	i18n.Language
	URL     string // this page again, in that language
	Current bool
}

// funcs are the template functions bound to one rendering: t, tn, lang,
// dir, datetime, date, clock, number, languages.
func (q *request) funcs() template.FuncMap {
	loc := func() *i18n.Localizer {
		if q.l == nil {
			return i18n.English() // at parse time
		}
		return q.l
	}
	// Every message may name the product as {{.Brand}}; a page's own
	// "Brand" argument comes later and wins.
	branded := func(kv []any) []any { return append([]any{"Brand", q.brand}, kv...) }
	return template.FuncMap{
		"t":        func(id string, kv ...any) string { return loc().T(id, branded(kv)...) },
		"tn":       func(id string, n any, kv ...any) string { return loc().N(id, n, branded(kv)...) },
		"lang":     func() string { return loc().Lang() },
		"dir":      func() string { return loc().Dir() },
		"datetime": func(t any) string { return whenever(t, loc().DateTime) },
		"date":     func(t any) string { return whenever(t, loc().Date) },
		"clock":    func(t any) string { return whenever(t, loc().Clock) },
		"number":   func(n any) string { return loc().Number(n) },
		// question asks a security question in the page's language: a
		// built-in one (ID b01, b02, …) from the question catalog, an
		// administrator's own in its text for the language, else text (the
		// default language's).
		"question": func(id, text string, texts map[string]string) string {
			if builtinQuestion.MatchString(id) {
				if s := loc().T("question.pool." + id); s != "question.pool."+id {
					return s
				}
			}
			if s := texts[loc().Lang()]; s != "" {
				return s
			}
			return text
		},
		"languages": func() []Choice {
			cur := loc().Lang()
			var cs []Choice
			for _, l := range i18n.Languages() {
				cs = append(cs, Choice{Language: l, URL: i18n.PickURL(q.r, l.Tag), Current: l.Tag == cur})
			}
			return cs
		},
	}
}

// builtinQuestion is the shape of a built-in question's ID.
var builtinQuestion = regexp.MustCompile(`^b[0-9]{2}$`)

// whenever formats a time.Time or *time.Time; nil or zero gives "".
func whenever(v any, f func(time.Time) string) string {
	switch t := v.(type) {
	case time.Time:
		if !t.IsZero() {
			return f(t)
		}
	case *time.Time:
		if t != nil && !t.IsZero() {
			return f(*t)
		}
	}
	return ""
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
