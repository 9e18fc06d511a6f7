package phone_test

import (
	"errors"
	"testing"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// TestDecoyMeetsTheDialCodeCap: once real sends have spent the daily cap
// of the region's calling code, a decoy's send is refused as a real one
// is (an unknown name must not be the one that still "sends"), and a
// decoy never spends the cap itself.
func TestDecoyMeetsTheDialCodeCap(t *testing.T) {
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		guard := phone.NewGuard(ratelimit.New(g), phone.Limits{DialCodeDay: 2}, "US")
		decoy := phone.Send{Method: "mobile", Channel: "sms", Purpose: "verify", UserID: "ghost", DestKey: "decoy-key", Decoy: true}
		for i := range 3 { // under the cap, decoys pass and spend nothing
			decoy.FlowID = string(rune('a' + i))
			if err := guard.Check(ctx, decoy); err != nil {
				t.Fatalf("decoy send %d under the cap: %v", i, err)
			}
		}
		for i, e164 := range []string{"+12015550101", "+12015550102", "+12015550103"} {
			n, err := phone.ParseE164(e164)
			if err != nil {
				t.Fatal(err)
			}
			err = guard.Check(ctx, phone.Send{Method: "mobile", Channel: "sms", Purpose: "verify", UserID: "real",
				Number: n, DestKey: "key-" + e164})
			var le *phone.LimitError
			switch {
			case i < 2 && err != nil:
				t.Fatalf("real send %d: %v (decoys must not have spent the cap)", i, err)
			case i == 2 && (!errors.As(err, &le) || le.Limit != "dial-code"):
				t.Fatalf("third real send: %v, want the dial-code limit", err)
			}
		}
		err := guard.Check(ctx, decoy)
		var le *phone.LimitError
		if !errors.As(err, &le) || le.Limit != "dial-code" {
			t.Fatalf("decoy send after the cap is spent: %v, want the dial-code limit like a real send", err)
		}
	})
}
