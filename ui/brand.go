package ui

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/latchkeyid/latchkey/ui/colour"
)

// Brand is what the organisation running Latchkey shows on every page.
// The zero value is Latchkey's own look; config validates each field
// before it gets here (the logo's URL, the colours' contrast).
type Brand struct {
	Name        string // product or organisation name; "Latchkey" when empty
	LogoURL     string // a data: image, or a URL on the issuer's origin
	Color       string // #rrggbb: buttons, links and focus in the light scheme
	Accent      string // #rrggbb: the same in the dark scheme
	SupportURL  string // the helpdesk's page
	SupportMail string // or its address
}

// Palette defaults and the surfaces brand colours must contrast with:
// kept in step with latchkey.css, and checked there by the browser tests.
var (
	DefaultColor  = colour.MustParse("#0b57d0")
	DefaultAccent = colour.MustParse("#a8c7fa")
	LightSurface  = colour.MustParse("#ffffff") // the card, and text on a primary button
	DarkSurface   = colour.MustParse("#1f2126") // the dark card
	DarkOnAccent  = colour.MustParse("#0b1d3a") // text on a primary button in the dark scheme
)

// ProductName is the name pages show.
func (b Brand) ProductName() string {
	if b.Name == "" {
		return "Latchkey"
	}
	return b.Name
}

// Support is where a stuck user can turn: the helpdesk page, else a
// mailto: link, else "".
func (b Brand) Support() template.URL {
	switch {
	case b.SupportURL != "":
		return template.URL(b.SupportURL) // #nosec G203 -- config accepts only an https (or the dev issuer's http) URL here
	case b.SupportMail != "":
		return template.URL("mailto:" + b.SupportMail) // #nosec G203 -- config accepts only a bare mail address here
	}
	return ""
}

// Logo is the logo's address for an img element; "" when none. data:
// URLs pass html/template's filter only because config vetted them.
func (b Brand) Logo() template.URL {
	return template.URL(b.LogoURL) // #nosec G203 -- config accepts only a base64 data:image URL or a URL on the issuer's origin
}

// Styled reports whether the brand changes the colours, so the layout
// links brand.css only then.
func (b Brand) Styled() bool { return b.Color != "" || b.Accent != "" }

// css is brand.css: the colour variables of latchkey.css, overridden.
func (b Brand) css() string {
	var s strings.Builder
	if b.Color != "" {
		fmt.Fprintf(&s, ":root{--accent:%s}\n", b.Color)
	}
	if b.Accent != "" {
		fmt.Fprintf(&s, "@media (prefers-color-scheme:dark){:root{--accent:%s}}\n", b.Accent)
	}
	return s.String()
}

// BrandStyle serves brand.css for this renderer's brand.
func (r *Renderer) BrandStyle() http.Handler {
	body := r.brand.css()
	started := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		http.ServeContent(w, req, "brand.css", started, strings.NewReader(body))
	})
}

// Option changes how New builds a renderer.
type Option func(*Renderer)

// WithBrand shows b on every page.
func WithBrand(b Brand) Option { return func(r *Renderer) { r.brand = b } }

// Brand is the brand this renderer shows.
func (r *Renderer) Brand() Brand { return r.brand }
