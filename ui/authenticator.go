package ui

import (
	"bytes"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/latchkeyid/latchkey/ui/i18n"
)

// The Latchkey Authenticator web app is static files under
// /static/authenticator/ except its page, its messages and its manifest,
// which speak the language chosen for the request like every other page
// (i18n.Choose: the picker's cookie, then Accept-Language). Its scripts
// take their strings from the page (a JSON block), and the service worker,
// which has no page, from messages.json.
const (
	appPage     = "authenticator/"
	appMessages = "authenticator/messages.json"
	appManifest = "authenticator/manifest.json"
	appArea     = "authenticator"
)

var appTemplate = template.Must(template.ParseFS(templateFS, "templates/app/authenticator.html"))

// appData is what the page template sees: the localizer's T, Lang and Dir,
// the scripts' messages and the language picker.
type appData struct {
	*i18n.Localizer
	Messages  appText
	Languages []Choice
}

// appText is what the scripts get: the language and its direction, and
// the app's messages with placeholders as written ({{.Name}}).
type appText struct {
	Lang     string            `json:"lang"`
	Dir      string            `json:"dir"`
	Messages map[string]string `json:"messages"`
}

// appManifestFor is the web app manifest in l's language: what a phone
// shows when it installs the app.
func appManifestFor(l *i18n.Localizer) map[string]any {
	icon := func(size string) map[string]string {
		return map[string]string{"src": "icon-" + size + ".png", "sizes": size + "x" + size, "type": "image/png", "purpose": "any maskable"}
	}
	return map[string]any{
		"name":             l.T("method.push.name"),
		"short_name":       "Authenticator", // the brand's short form: as the name, the same in every language
		"description":      l.T("authenticator.manifest.description"),
		"lang":             l.Lang(),
		"dir":              l.Dir(),
		"id":               "./",
		"start_url":        "./",
		"scope":            "./",
		"display":          "standalone",
		"background_color": "#f3f4f7",
		"theme_color":      "#1f3a5f",
		"icons":            []map[string]string{icon("192"), icon("512")},
	}
}

func appTextFor(l *i18n.Localizer) appText {
	m := l.Script(appArea)
	m["method.push.name"] = l.T("method.push.name") // the app's name, also the notification's fallback title
	return appText{Lang: l.Lang(), Dir: l.Dir(), Messages: m}
}

// serveApp answers the app's page and messages, and reports false for
// every other static file.
func serveApp(w http.ResponseWriter, r *http.Request, name string) bool {
	if name != appPage && name != appPage+"index.html" && name != appMessages && name != appManifest {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return true
	}
	l := i18n.Choose(r)
	h := w.Header()
	// The same address answers in each language: caches must ask again
	// (the service worker goes to the network first) and keep them apart.
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Language, Cookie")
	h.Set("Content-Language", l.Lang())
	var buf bytes.Buffer
	if name == appMessages || name == appManifest {
		var v any = appTextFor(l)
		h.Set("Content-Type", "application/json; charset=utf-8")
		if name == appManifest {
			v = appManifestFor(l)
			h.Set("Content-Type", "application/manifest+json; charset=utf-8")
		}
		if err := json.NewEncoder(&buf).Encode(v); err != nil {
			slog.Error("ui: authenticator messages", "err", err)
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return true
		}
	} else {
		h.Set("Content-Type", "text/html; charset=utf-8")
		data := appData{Localizer: l, Messages: appTextFor(l)}
		for _, lang := range i18n.Languages() {
			data.Languages = append(data.Languages, Choice{Language: lang, URL: i18n.PickURL(r, lang.Tag), Current: lang.Tag == l.Lang()})
		}
		if err := appTemplate.Execute(&buf, data); err != nil {
			slog.Error("ui: authenticator page", "err", err)
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return true
		}
	}
	if r.Method == http.MethodGet {
		_, _ = buf.WriteTo(w)
	}
	return true
}
