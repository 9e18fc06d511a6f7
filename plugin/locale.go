package plugin

import (
	"context"
	"log/slog"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// localeRecorder is the optional part of the Directory that remembers the
// language a user last used the pages in (*user.Store has it); without
// it, messages sent outside a request use the default language.
type localeRecorder interface {
	RememberLocale(ctx context.Context, userID, last, tag string) error
}

var _ localeRecorder = (*user.Store)(nil)

// rememberLocale records the language of c's page as u's, when the
// request chose one and it differs from the one stored, so a page in an
// unchanged language writes nothing. Call it only for an account whose
// owner has shown who they are (signed in, or a finished recovery): a
// recovery that merely names an account must neither change it nor
// answer differently for a real one. A failure is logged, never shown:
// the language is a convenience.
func (p *Plugin) rememberLocale(c echo.Context, u *user.User) {
	r, ok := p.d.Users.(localeRecorder)
	if !ok || c == nil || u == nil {
		return
	}
	ctx := c.Request().Context()
	l := i18n.From(ctx)
	if !l.Chosen() || l.Lang() == u.Locale {
		return
	}
	if err := r.RememberLocale(ctx, u.ID, u.Locale, l.Lang()); err != nil {
		slog.WarnContext(ctx, "plugin: remember locale", "user", u.ID, "err", err)
		return
	}
	u.Locale = l.Lang()
}

// inLanguageOf returns ctx speaking u's remembered language, else the
// default (English): for a message to u that no page of theirs caused.
func inLanguageOf(ctx context.Context, u *user.User) context.Context {
	return i18n.With(ctx, i18n.Stored(u.Locale, nil))
}
