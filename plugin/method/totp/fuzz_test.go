package totp_test

import (
	"testing"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/methodtest"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// FuzzVerifyInput: any typed code is handled without panic or error and
// is accepted only when it is the right 6 digits.
func FuzzVerifyInput(f *testing.F) {
	for _, s := range []string{"123456", " 123 456 ", "１２３４５６", "", "12345678901234567890", "\x00"} {
		f.Add(s)
	}
	keys, _ := secret.Parse(secret.Generate())
	clk := methodtest.NewClock()
	m := totp.New(nil, keys, "Latchkey", totp.WithClock(clk.Now))
	u := method.Ref{ID: "u"}
	// A decoy path needs no store: it exercises parsing and matching.
	f.Fuzz(func(t *testing.T, s string) {
		e := method.Enrollment{ID: "e", Method: method.TOTP}
		c, err := m.Challenge(t.Context(), "f", method.Ref{Decoy: true}, e)
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.Verify(t.Context(), "f", method.Ref{Decoy: true, ID: u.ID}, e, c, method.Input{"code": s})
		if err != nil || res.OK {
			t.Fatalf("Verify(%q) = %+v, %v", s, res, err)
		}
	})
}
