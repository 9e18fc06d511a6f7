package phone

import (
	"fmt"
	"strings"

	"golang.org/x/text/language"
)

// texts are the words of a text message and of a call, per language. %s
// is the brand, %s the code (a call gets it digit by digit), %d minutes.
type texts struct {
	sms   string // brand, code, minutes
	voice string // brand, spelled code
}

var catalog = map[string]texts{
	"en": {"Your %s verification code is %s. It expires in %d minutes. Don't share it with anyone.",
		"This is %s. Your verification code is: %s."},
	"fr": {"Votre code de vérification %s est %s. Il expire dans %d minutes. Ne le communiquez à personne.",
		"Ici %s. Votre code de vérification est : %s."},
	"de": {"Ihr %s-Bestätigungscode lautet %s. Er läuft in %d Minuten ab. Geben Sie ihn nicht weiter.",
		"Hier ist %s. Ihr Bestätigungscode lautet: %s."},
	"es": {"Tu código de verificación de %s es %s. Caduca en %d minutos. No lo compartas con nadie.",
		"Le llama %s. Su código de verificación es: %s."},
	"it": {"Il tuo codice di verifica %s è %s. Scade tra %d minuti. Non condividerlo con nessuno.",
		"Questo è %s. Il suo codice di verifica è: %s."},
	"nl": {"Je %s-verificatiecode is %s. Hij verloopt over %d minuten. Deel hem met niemand.",
		"Dit is %s. Uw verificatiecode is: %s."},
	"pt": {"Seu código de verificação %s é %s. Ele expira em %d minutos. Não o compartilhe.",
		"Aqui é %s. Seu código de verificação é: %s."},
}

// supported lists the catalog's languages; English first (the fallback).
var supported = []language.Tag{language.English, language.French, language.German, language.Spanish,
	language.Italian, language.Dutch, language.Portuguese}

var matcher = language.NewMatcher(supported)

// pickLanguage returns the catalog language for an Accept-Language header
// and the tag to give the voice (the user's own tag, so "en-GB" gets a
// British voice and "fr-CA" a Canadian one).
func pickLanguage(acceptLanguage string) (base string, voice string) {
	prefs, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(prefs) == 0 {
		return "en", "en-US"
	}
	_, i, conf := matcher.Match(prefs...)
	if conf == language.No {
		return "en", "en-US"
	}
	b, _ := supported[i].Base()
	base = b.String()
	for _, p := range prefs {
		if pb, _ := p.Base(); pb.String() == base {
			return base, p.String()
		}
	}
	return base, base
}

// smsText is the text message carrying code.
func smsText(lang, brand, code string, minutes int) string {
	t, ok := catalog[lang]
	if !ok {
		t = catalog["en"]
	}
	return fmt.Sprintf(t.sms, brand, code, minutes)
}

// voiceText is what a call says (twice: the sender repeats it): the code
// one digit at a time, so a speech engine never reads "12345678" as a
// number.
func voiceText(lang, brand, code string) string {
	t, ok := catalog[lang]
	if !ok {
		t = catalog["en"]
	}
	return fmt.Sprintf(t.voice, brand, spell(code))
}

// spell separates digits with commas and spaces: "1, 2, 3".
func spell(code string) string {
	parts := make([]string, 0, len(code))
	for _, r := range code {
		parts = append(parts, string(r))
	}
	return strings.Join(parts, ", ")
}
