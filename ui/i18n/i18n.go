package i18n

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // browsers name zones the host may not have

	"github.com/BurntSushi/toml"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"github.com/nicksnyder/go-i18n/v2/i18n/template"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"

	"github.com/latchkeyid/latchkey/ui/locales"
)

// Language is one language the pages are translated into.
type Language struct {
	Tag  string // BCP 47, e.g. "de"
	Name string // its own name for itself, e.g. "Deutsch"
}

// languages lists every supported language, English (the source) first.
var languages = []Language{
	{"en", "English"},
	{"de", "Deutsch"},
	{"fr", "Français"},
	{"es", "Español"},
	{"ja", "日本語"},
	{"ar", "العربية"},
}

// Languages returns the supported languages, English first.
func Languages() []Language { return append([]Language(nil), languages...) }

var (
	supported = func() []language.Tag {
		tags := make([]language.Tag, len(languages))
		for i, l := range languages {
			tags[i] = language.MustParse(l.Tag)
		}
		return tags
	}()
	matcher = language.NewMatcher(supported)
)

// bundles holds each language's catalog (its messages over English's,
// the fallback), parsed when a page first needs that language: a server
// whose readers all read English never parses the other five (a third of
// its start-up and 2 MiB of heap when it parsed all of them at once).
var bundles = func() map[string]func() (*goi18n.Bundle, error) {
	m := make(map[string]func() (*goi18n.Bundle, error), len(languages))
	for _, l := range languages {
		m[l.Tag] = sync.OnceValues(func() (*goi18n.Bundle, error) { return load(locales.FS, l.Tag) })
	}
	return m
}()

// load parses the English catalogs of fsys and, for another language,
// that language's.
func load(fsys fs.FS, tag string) (*goi18n.Bundle, error) {
	b := goi18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	var files []string
	for _, t := range slices.Compact([]string{"en", tag}) {
		f, err := fs.Glob(fsys, "*."+t+".toml")
		if err != nil {
			return nil, err
		}
		sort.Strings(f)
		files = append(files, f...)
	}
	for _, f := range files {
		if _, err := b.LoadMessageFileFS(fsys, f); err != nil {
			return nil, fmt.Errorf("i18n: catalog %s: %w", f, err)
		}
	}
	return b, nil
}

// Check parses the English catalogs; the server calls it at start-up so a
// broken catalog stops it instead of showing message IDs to people. The
// other languages are parsed on first use (TestEveryCatalogParses parses
// them all: they are embedded, so a build that passed it has none broken).
func Check() error { _, err := bundles["en"](); return err }

// Localizer translates and formats for one language and time zone.
// The zero of a time zone is UTC, and then times say so.
type Localizer struct {
	tag  language.Tag
	lc   func() *goi18n.Localizer // its catalog, parsed on first use
	p    *message.Printer
	zone *time.Location // nil: UTC
	// chosen: a request chose this language (a pick, ui_locales or
	// Accept-Language), rather than falling back to the default.
	chosen bool
}

var localizers = sync.OnceValue(func() map[string]*Localizer {
	m := map[string]*Localizer{}
	for i, l := range languages {
		m[l.Tag] = &Localizer{
			tag: supported[i],
			lc: sync.OnceValue(func() *goi18n.Localizer {
				b, err := bundles[l.Tag]()
				if err != nil {
					slog.Error("i18n: catalog", "lang", l.Tag, "err", err)
					b = goi18n.NewBundle(language.English) // pages show IDs
				}
				return goi18n.NewLocalizer(b, l.Tag, "en")
			}),
			p: message.NewPrinter(supported[i]),
		}
	}
	return m
})

// English is the localizer used when nothing else was chosen.
func English() *Localizer { return localizers()["en"] }

// For returns the localizer of the best supported match of tags (a BCP 47
// tag, a list of them separated by spaces as in ui_locales, or an
// Accept-Language value), and ok false (with English) when none matches.
func For(tags string) (l *Localizer, ok bool) {
	t, ok := match(tags)
	if !ok {
		return English(), false
	}
	return localizers()[t], true
}

// match returns the supported tag that best fits tags.
func match(tags string) (string, bool) {
	tags = strings.TrimSpace(tags)
	if tags == "" || len(tags) > 200 {
		return "", false
	}
	want := parseList(tags)
	// One wanted tag at a time, in order of preference: the matcher
	// guesses across languages (it maps Klingon to English), and only a
	// language that was asked for counts.
	for _, w := range want {
		_, i, conf := matcher.Match(w)
		got, _ := supported[i].Base()
		if b, _ := w.Base(); conf != language.No && b == got {
			return languages[i].Tag, true
		}
	}
	return "", false
}

// parseList reads ui_locales ("de-AT fr") or Accept-Language ("de;q=0.8,
// fr"), best first, skipping what does not parse: one unknown tag must not
// cost the rest (language.ParseAcceptLanguage gives up on it).
func parseList(s string) []language.Tag {
	type weighted struct {
		t language.Tag
		q float64
	}
	var ws []weighted
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		tag, params, _ := strings.Cut(part, ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 || f > 1 {
				continue
			}
			q = f
		}
		if t, err := language.Parse(tag); err == nil {
			ws = append(ws, weighted{t, q})
		}
	}
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].q > ws[j].q })
	tags := make([]language.Tag, len(ws))
	for i, w := range ws {
		tags[i] = w.t
	}
	return tags
}

type ctxKey struct{}

// With returns ctx carrying l.
func With(ctx context.Context, l *Localizer) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// From returns the localizer chosen for ctx's request; English when none
// was. It never returns nil.
func From(ctx context.Context) *Localizer {
	if ctx != nil {
		if l, ok := ctx.Value(ctxKey{}).(*Localizer); ok && l != nil {
			return l
		}
	}
	return English()
}

// InZone returns a copy of l that shows times in zone (nil: UTC).
func (l *Localizer) InZone(zone *time.Location) *Localizer {
	c := *l
	c.zone = zone
	return &c
}

// Chosen reports whether the request chose this language (picked on a
// page, asked for by the application's ui_locales, or by the browser's
// Accept-Language); false for the default, used when nothing matched.
// Only a chosen language is worth remembering as the user's.
func (l *Localizer) Chosen() bool { return l.chosen }

// Stored returns the localizer for a language remembered for a user (a
// tag from Lang), or fallback when it is empty or no longer supported.
func Stored(tag string, fallback *Localizer) *Localizer {
	if tag != "" {
		if l, ok := localizers()[tag]; ok {
			return l
		}
	}
	if fallback == nil {
		return English()
	}
	return fallback
}

// Lang is the BCP 47 tag, for <html lang>.
func (l *Localizer) Lang() string { return l.tag.String() }

// Dir is "rtl" for right-to-left languages, else "ltr", for <html dir>.
func (l *Localizer) Dir() string {
	switch base, _ := l.tag.Base(); base.String() {
	case "ar", "he", "fa", "ur":
		return "rtl"
	}
	return "ltr"
}

// T translates the message id. kv are pairs of a name and a value the
// message uses as {{.Name}}; numbers are formatted for the language (pass
// codes as strings). A message missing everywhere shows its id.
func (l *Localizer) T(id string, kv ...any) string {
	return l.localize(id, nil, kv)
}

// N is T for a message with plural forms, chosen by count.
func (l *Localizer) N(id string, count any, kv ...any) string {
	return l.localize(id, count, kv)
}

func (l *Localizer) localize(id string, count any, kv []any) string {
	if id == "" || strings.ContainsAny(id, " \n") {
		return id // not an ID: a text not moved to a catalog yet
	}
	var data map[string]any
	if len(kv) > 0 {
		data = make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				continue
			}
			data[k] = l.value(kv[i+1])
		}
	}
	s, err := l.lc().Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if s == "" {
		if err != nil {
			slog.Warn("i18n: message missing", "id", id, "lang", l.Lang(), "err", err)
		}
		return id
	}
	return s
}

// value formats numbers for the language; anything else passes as is.
func (l *Localizer) value(v any) any {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return l.Number(v)
	}
	return v
}

// Number formats n for the language (digits, grouping, decimal sign).
func (l *Localizer) Number(n any) string {
	return l.p.Sprint(number.Decimal(n))
}

// Zone names the time zone times are shown in.
func (l *Localizer) Zone() string {
	if l.zone == nil {
		return "UTC"
	}
	return l.zone.String()
}

func (l *Localizer) in(t time.Time) time.Time {
	if l.zone == nil {
		return t.UTC()
	}
	return t.In(l.zone)
}

// Date formats the day of t in the language, e.g. "2 March 2026".
func (l *Localizer) Date(t time.Time) string {
	t = l.in(t)
	return l.T("common.date.format",
		"Day", l.p.Sprint(number.Decimal(t.Day(), number.NoSeparator())),
		"Month", l.month(t.Month()),
		"Year", l.p.Sprint(number.Decimal(t.Year(), number.NoSeparator())))
}

// DateTime formats t with its day, time of day and time zone, e.g.
// "2 March 2026, 14:05 (Europe/Berlin)"; "(UTC)" when the browser's zone is
// not known.
func (l *Localizer) DateTime(t time.Time) string {
	t = l.in(t)
	return l.T("common.datetime.format",
		"Date", l.Date(t),
		"Time", l.Clock(t),
		"Zone", l.Zone())
}

// Clock formats the time of day of t, 24-hour, in the page's time zone.
func (l *Localizer) Clock(t time.Time) string {
	t = l.in(t)
	two := func(n int) string {
		return l.p.Sprint(number.Decimal(n, number.MinIntegerDigits(2), number.NoSeparator()))
	}
	return l.T("common.time.format", "Hour", two(t.Hour()), "Minute", two(t.Minute()))
}

func (l *Localizer) month(m time.Month) string {
	switch m {
	case time.January:
		return l.T("common.month.january")
	case time.February:
		return l.T("common.month.february")
	case time.March:
		return l.T("common.month.march")
	case time.April:
		return l.T("common.month.april")
	case time.May:
		return l.T("common.month.may")
	case time.June:
		return l.T("common.month.june")
	case time.July:
		return l.T("common.month.july")
	case time.August:
		return l.T("common.month.august")
	case time.September:
		return l.T("common.month.september")
	case time.October:
		return l.T("common.month.october")
	case time.November:
		return l.T("common.month.november")
	default:
		return l.T("common.month.december")
	}
}

// Script returns every plain message of area (the keys of its English
// catalog, <area>.en.toml) in l's language, placeholders left as written
// ({{.Name}}), for a script that fills them in itself. Messages with
// plural forms are left out: a script gets plain sentences only.
func (l *Localizer) Script(area string) map[string]string {
	key := l.Lang() + " " + area
	if m, ok := scriptCache.Load(key); ok {
		return maps.Clone(m.(map[string]string))
	}
	out := map[string]string{}
	for _, id := range areaIDs(area) {
		s, err := l.lc().Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateParser: template.IdentityParser{}})
		if err != nil || s == "" {
			s = id
		}
		out[id] = s
	}
	scriptCache.Store(key, out)
	return maps.Clone(out)
}

var (
	areaCache   sync.Map // area → []string
	scriptCache sync.Map // "<lang> <area>" → Script's messages (the catalogs never change)
)

// areaIDs lists the plain message IDs of area's English catalog, sorted;
// nil for an area without one.
func areaIDs(area string) []string {
	if ids, ok := areaCache.Load(area); ok {
		return ids.([]string)
	}
	var raw map[string]any
	b, err := fs.ReadFile(locales.FS, area+".en.toml")
	if err != nil || toml.Unmarshal(b, &raw) != nil {
		return nil
	}
	var ids []string
	for id, v := range raw {
		if _, plain := v.(string); plain {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	areaCache.Store(area, ids)
	return ids
}
