package method

import (
	"strings"
	"unicode/utf8"
)

// Bullet is the masking character.
const Bullet = "•"

// MaskEmail shows the first and last character of the local part and the
// whole domain: alice@example.com -> a•••e@example.com. Short local parts
// keep only their first character; the number of bullets is fixed so the
// mask does not reveal the length.
func MaskEmail(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return strings.Repeat(Bullet, 3)
	}
	local, domain := addr[:at], addr[at+1:]
	first, _ := utf8.DecodeRuneInString(local)
	last, _ := utf8.DecodeLastRuneInString(local)
	if utf8.RuneCountInString(local) <= 2 {
		return string(first) + strings.Repeat(Bullet, 3) + "@" + domain
	}
	return string(first) + strings.Repeat(Bullet, 3) + string(last) + "@" + domain
}

// MaskPhone keeps the country code of an E.164 number and its last two
// digits: +14155550142 -> +1 ••• ••• ••42. The country code length is
// passed in (1 to 3 digits) because only a phone-number library knows it.
func MaskPhone(e164 string, countryCodeLen int) string {
	digits := strings.TrimPrefix(e164, "+")
	if countryCodeLen < 1 || countryCodeLen > 3 || len(digits) < countryCodeLen+2 {
		return "+" + strings.Repeat(Bullet, 3)
	}
	cc, last := digits[:countryCodeLen], digits[len(digits)-2:]
	return "+" + cc + " " + strings.Repeat(Bullet, 3) + " " + strings.Repeat(Bullet, 3) + " " + strings.Repeat(Bullet, 2) + last
}
