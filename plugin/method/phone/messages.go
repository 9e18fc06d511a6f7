package phone

import (
	"context"
	"strings"

	"golang.org/x/text/language"

	"github.com/latchkeyid/latchkey/ui/i18n"
)

// voiceTag is the tag to give the speech engine: the page's language, with
// the region of the user's own tag for it when the browser names one, so
// "en-GB" gets a British voice and "fr-CA" a Canadian one.
func voiceTag(lang, acceptLanguage string) string {
	prefs, _, _ := language.ParseAcceptLanguage(acceptLanguage)
	for _, p := range prefs {
		if b, _ := p.Base(); b.String() == lang {
			return p.String()
		}
	}
	if lang == "en" {
		return "en-US"
	}
	return lang
}

// smsText is the text message carrying code, in the language of the
// request that asked for it.
func smsText(ctx context.Context, brand, code string, minutes int) string {
	return i18n.From(ctx).N("mail.sms.code", minutes, "Brand", brand, "Code", code, "Minutes", minutes)
}

// voiceText is what a call says (twice: the sender repeats it): the code
// one digit at a time, so a speech engine never reads "12345678" as a
// number.
func voiceText(ctx context.Context, brand, code string) string {
	return i18n.From(ctx).T("mail.voice.code", "Brand", brand, "Code", spell(code))
}

// spell separates digits with commas and spaces: "1, 2, 3".
func spell(code string) string {
	parts := make([]string, 0, len(code))
	for _, r := range code {
		parts = append(parts, string(r))
	}
	return strings.Join(parts, ", ")
}
