package mail

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"maps"
	"net/url"
	"path"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/latchkeyid/latchkey/ui/i18n"
)

//go:embed templates
var files embed.FS

// Message is a rendered message.
type Message struct {
	Subject string
	Text    string
	HTML    string
}

// Templates renders the embedded messages.
type Templates struct {
	issuer string
	brand  string // the product name messages say ("Latchkey" by default)
	text   map[string]*texttemplate.Template
	html   map[string]*htmltemplate.Template
}

// Names of the messages; each has templates/<name>.txt (defining "subject"
// and "text") and templates/<name>.html (defining "html").
const (
	Code          = "code"           // a one-time code: .Code .Minutes .Purpose ("recover"|"register"|"stepup")
	PasswordReset = "password-reset" // notify: .Time .IP .Methods .ReportURL
	// PasswordChanged: changed on Security info by a user who knew it;
	// .SignedOut says whether every other session was signed out.
	PasswordChanged = "password-changed" // notify: .Time .IP .Methods .SignedOut .ReportURL
	Unlocked        = "unlocked"         // notify: .Time .IP .Methods .ReportURL
	MethodAdded     = "method-added"     // notify: .Time .IP .Method .Label .ReportURL
	MethodRemoved   = "method-removed"   // notify: .Time .IP .Method .Label .ReportURL
	CodeReplay      = "code-replay"      // notify: .Time .IP (a used authenticator code was tried again)
	AdminReset      = "admin-reset"      // to every admin: .Time .IP .Username
	// SetupLink: an administrator's one-time link to choose a password.
	SetupLink = "setup-link" // .Username .SetupURL .Expires
)

// Names lists every message, so callers and tests can check them all.
var Names = []string{Code, PasswordReset, PasswordChanged, Unlocked, MethodAdded, MethodRemoved, CodeReplay, AdminReset, SetupLink}

// Option changes how New builds the templates.
type Option func(*Templates)

// WithBrand names the product in subjects, headers and footers (the
// configured brand's ProductName); "" keeps "Latchkey".
func WithBrand(name string) Option {
	return func(t *Templates) {
		if name != "" {
			t.brand = name
		}
	}
}

// New parses every template; issuer is the public base URL (LATCHKEY_ISSUER).
func New(issuer string, opts ...Option) (*Templates, error) {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("mail: issuer %q is not an absolute http(s) URL", issuer)
	}
	t := &Templates{issuer: strings.TrimRight(issuer, "/"), brand: "Latchkey", text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	for _, o := range opts {
		o(t)
	}
	funcs := map[string]any{"link": t.Link}
	maps.Copy(funcs, words(i18n.English(), t.brand))
	layout, err := htmltemplate.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("mail: layout: %w", err)
	}
	for _, name := range Names {
		tt, err := texttemplate.New(name).Funcs(funcs).ParseFS(files, "templates/"+name+".txt")
		if err != nil {
			return nil, fmt.Errorf("mail: %s: %w", name, err)
		}
		if tt.Lookup("subject") == nil || tt.Lookup("text") == nil {
			return nil, fmt.Errorf("mail: %s.txt must define subject and text", name)
		}
		ht, err := htmltemplate.Must(layout.Clone()).ParseFS(files, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("mail: %s: %w", name, err)
		}
		t.text[name], t.html[name] = tt, ht
	}
	if err := checkComplete(); err != nil {
		return nil, err
	}
	return t, nil
}

// checkComplete refuses template files that no message name uses, a sign
// of a typo.
func checkComplete() error {
	all, _ := fs.Glob(files, "templates/*")
	for _, f := range all {
		base := path.Base(f)
		name := strings.TrimSuffix(strings.TrimSuffix(base, ".txt"), ".html")
		if base == "layout.html" {
			continue
		}
		found := false
		for _, n := range Names {
			found = found || n == name
		}
		if !found {
			return fmt.Errorf("mail: template %s belongs to no message", base)
		}
	}
	return nil
}

// Link returns the issuer URL joined with p (a path, optionally with a
// query). It is the only way templates make links.
func (t *Templates) Link(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return t.issuer + p
}

// Issuer returns the base URL links are built from.
func (t *Templates) Issuer() string { return t.issuer }

// Brand returns the product name the messages say.
func (t *Templates) Brand() string { return t.brand }

// words are the template functions that translate: t, tn, datetime, date
// (as in the pages; see ui/i18n). Every message may say {{.Brand}}.
func words(l *i18n.Localizer, brand string) map[string]any {
	branded := func(kv []any) []any { return append([]any{"Brand", brand}, kv...) }
	return map[string]any{
		"t":        func(id string, kv ...any) string { return l.T(id, branded(kv)...) },
		"tn":       func(id string, n any, kv ...any) string { return l.N(id, n, branded(kv)...) },
		"brand":    func() string { return brand },
		"datetime": func(t time.Time) string { return l.DateTime(t) },
		"date":     func(t time.Time) string { return l.Date(t) },
		"lang":     l.Lang,
		"dir":      l.Dir,
	}
}

// Render renders message name with data (a struct or map the templates
// read; "Subject" is available to the HTML as .Subject via the wrapper),
// in the language chosen for ctx's request (English outside a request).
func (t *Templates) Render(ctx context.Context, name string, data any) (Message, error) {
	master, ok := t.text[name]
	if !ok {
		return Message{}, fmt.Errorf("mail: no message %q", name)
	}
	// Clones of templates never executed, bound to this message's language.
	w := words(i18n.From(ctx), t.brand)
	tt := texttemplate.Must(master.Clone()).Funcs(w)
	ht := htmltemplate.Must(t.html[name].Clone()).Funcs(w)
	var subj, text, html bytes.Buffer
	if err := tt.ExecuteTemplate(&subj, "subject", data); err != nil {
		return Message{}, fmt.Errorf("mail: %s subject: %w", name, err)
	}
	if err := tt.ExecuteTemplate(&text, "text", data); err != nil {
		return Message{}, fmt.Errorf("mail: %s text: %w", name, err)
	}
	subject := strings.TrimSpace(strings.ReplaceAll(subj.String(), "\n", " "))
	wrapped := struct {
		Subject string
		Issuer  string
		D       any
	}{subject, t.issuer, data}
	if err := ht.ExecuteTemplate(&html, "layout.html", wrapped); err != nil {
		return Message{}, fmt.Errorf("mail: %s html: %w", name, err)
	}
	return Message{Subject: subject, Text: strings.TrimSpace(text.String()) + "\n", HTML: html.String()}, nil
}
