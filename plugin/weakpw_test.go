package plugin_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/plugin/method/totp"
)

// TestRepetitiveAndSequentialPasswordsRefused: the reset page refuses
// passwords that are repetitions or runs after NFKC ("ﬀﬀﬀﬀ" is
// "ffffffff"), and those zxcvbn scores as too guessable, each with the
// policy's reason; a passphrase is then accepted.
func TestRepetitiveAndSequentialPasswordsRefused(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("wren", false)
		secret := e.enrollTOTP(u)
		b := e.browser()
		fp := b.start("wren", "")
		b.post(fp, url.Values{"intent": {"reset"}})
		b.choose(fp, "authenticator app")
		code, _ := totp.Code(secret, e.clock.Now())
		b.post(fp+"/verify", url.Values{"code": {code}})
		tests := []struct{ name, pw, reason string }{
			{"ligature-ff", "ﬀﬀﬀﬀ", "same few characters repeated"},
			{"one-letter", "ffffffff", "same few characters repeated"},
			{"one-letter-and-digit", "aaaaaaaa1", "same few characters repeated"},
			{"letters-run", "abcdefgh", "consecutive letters or digits"},
			{"fullwidth-run", "ｍｎｏｐｑｒｓｔ", "consecutive letters or digits"},
			{"keyboard-walk", "mnbvcxzlkj", "too easy to guess"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b.post(fp+"/password", url.Values{"password": {tt.pw}, "confirm": {tt.pw}})
				if b.code != 200 || !strings.Contains(b.last, `class="error"`) || !strings.Contains(b.last, tt.reason) {
					t.Fatalf("%q: status %d, page:\n%s", tt.pw, b.code, b.last)
				}
			})
		}
		b.post(fp+"/password", url.Values{"password": {"lantern orchard quietly 42"}, "confirm": {"lantern orchard quietly 42"}})
		b.must(200, "Your password was changed")
	})
}
