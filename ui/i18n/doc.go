// Package i18n chooses the language of a request and translates messages
// from the catalogs in ui/locales (go-i18n, TOML, one file per area and
// language: <area>.<lang>.toml).
//
// The language comes, in order, from an explicit pick (?lang=, remembered in
// a cookie), the ui_locales of the sign-in in progress (Hint; unless the
// person picked a language after it began), the remembered pick, and
// Accept-Language; anything unknown falls back to English. Middleware puts
// the choice into the request's context; From reads it back anywhere:
//
//	i18n.From(ctx).T("recover.code.sent", "Address", addr)
//	i18n.From(ctx).N("recover.cooldown.hours", h, "Hours", h)
//
// Pages use the same through template functions (package ui): t, tn, lang,
// dir, datetime, date, clock and number. A script gets an area's messages
// with Script, placeholders left for it to fill in. Message IDs are string
// literals at the place of use (in scripts too), so tests can find every one.
//
// In a catalog, quote every key ("recover.start.title" = "…") so its dots
// do not nest TOML tables; a message with plural forms is a table of them,
// and tables go after every plain key (TOML puts the keys that follow a
// table header inside that table):
//
//	["recover.cooldown.hours"]
//	one = "{{.Hours}} hour"
//	other = "{{.Hours}} hours"
//
// Messages are plain text: the page escapes them. Numbers passed as values
// are formatted for the language, so pass codes and identifiers as strings.
package i18n
