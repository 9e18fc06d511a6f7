package rekey_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/latchkeyid/latchkey/cmd/latchkey/internal/rekey"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
	"github.com/latchkeyid/latchkey/provider/secret"
	"gorm.io/gorm"
)

// count counts the rows of table with a value in col.
func count(t *testing.T, g *gorm.DB, table, col string) int {
	t.Helper()
	var n int64
	if err := g.Table(table).Where(col + " IS NOT NULL AND LENGTH(" + col + ") > 0").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func emailOf(t *testing.T, x *plugintest.Env) method.Enrollment {
	t.Helper()
	ens, err := x.Store.List(t.Context(), x.Server.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ens {
		if e.Method == method.Email {
			return e
		}
	}
	t.Fatal("no email method")
	return method.Enrollment{}
}

func resealed(reps []rekey.Report) (n int) {
	for _, r := range reps {
		n += r.Resealed
	}
	return n
}

// A rotation of LATCHKEY_SECRET: servers switch to the new secret with
// the old one as LATCHKEY_SECRET_PREVIOUS, the rotation is killed after
// two batches and run again, and then a server with the previous secret
// unset still signs every user in, verifies the TOTP app and the email
// address, delivers the queued mail and signs with the same keys.
func TestRotateInterruptedThenFinished(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		oldK, _ := secret.Parse(secret.Generate())
		newK, _ := secret.Parse(secret.Generate())
		f := plugintest.Fill(t, url, oldK)

		g, err := db.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close(g) })
		// Everything Fill stored is under the old secret.
		want := count(t, g, "oidc_signing_keys", "private_key_enc") + count(t, g, "sspr_methods", "data") + count(t, g, "sspr_outbox", "body")

		// Short-lived values made just before the switch: a refresh token
		// and a mailed code, both stored as keyed hashes only.
		var refresh, code string
		var challenge method.Challenge
		t.Run("before-switch", func(t *testing.T) {
			x := plugintest.Start(t, url, plugintest.Options{Methods: []string{"totp", "email"}, Keyring: oldK, Reuse: true})
			refresh = plugintest.SignInAs(t, x, pt.Username, pt.Password).OAuth.RefreshToken
			e := emailOf(t, x)
			var err error
			if challenge, err = x.Email.Challenge(t.Context(), "in-flight", x.Ref(), e); err != nil {
				t.Fatal(err)
			}
			code = x.MailCode(t, f.Email)
		})
		t.Run("window", func(t *testing.T) {
			// New secret, old one still accepted: what was sealed and hashed
			// before works; the web app's client secret is re-hashed on use.
			x := plugintest.Start(t, url, plugintest.Options{Methods: []string{"totp", "email"}, Keyring: newK.WithPrevious(oldK), Reuse: true})
			for u, pw := range f.Users {
				plugintest.SignInAs(t, x, u, pw)
			}
			if status, body := x.Server.Refresh(t, pt.WebClient, pt.WebSecret, refresh); status != http.StatusOK {
				t.Fatalf("refresh token issued before the switch: %d %v", status, body)
			}
			res, err := x.Email.Verify(t.Context(), "in-flight", x.Ref(), emailOf(t, x), challenge, method.Input{"code": code})
			if err != nil || !res.OK {
				t.Fatalf("code mailed before the switch: %+v, %v", res, err)
			}
		})

		var first int
		t.Run("interrupted", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			batches := 0
			reps, err := rekey.Rotate(ctx, g, newK, oldK, rekey.Options{Batch: 1, AfterBatch: func(string, int) error {
				if batches++; batches == 2 {
					cancel() // as if the process were killed: the next batch's transaction fails
				}
				return nil
			}})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if first = resealed(reps); first != 2 {
				t.Fatalf("re-sealed %d rows before the interruption, want 2 (batches of 1)", first)
			}
			var p struct{ LastID string }
			if err := g.Table("latchkey_secret_rotation").Select("last_id").Where("target = ?", "signing-keys").Take(&p).Error; err != nil || p.LastID == "" {
				t.Fatalf("progress not recorded: %+v, %v", p, err)
			}
		})
		t.Run("resumed", func(t *testing.T) {
			reps, err := rekey.Rotate(t.Context(), g, newK, oldK, rekey.Options{Batch: 1})
			if err != nil {
				t.Fatal(err)
			}
			if got := resealed(reps) + first; got != want {
				t.Fatalf("re-sealed %d rows in all, want %d: %+v", got, want, reps)
			}
			for _, r := range reps {
				if !r.Done {
					t.Fatalf("%s not done", r.Target)
				}
			}
		})
		t.Run("again-is-a-no-op", func(t *testing.T) {
			// Progress says done; and with the progress forgotten, every
			// row is found already under the new secret and skipped.
			if err := g.Exec("DELETE FROM latchkey_secret_rotation").Error; err != nil {
				t.Fatal(err)
			}
			reps, err := rekey.Rotate(t.Context(), g, newK, oldK, rekey.Options{})
			if err != nil || resealed(reps) != 0 {
				t.Fatalf("second run re-sealed %d, %v", resealed(reps), err)
			}
		})
		t.Run("previous-unset", func(t *testing.T) {
			x := f.Check(t, url, newK)
			// A client secret is a keyed hash of a value Latchkey never
			// keeps: the web app moved over at its use in the window; the
			// service client, idle meanwhile, needs a new secret.
			if err := x.Server.OPStore.AuthorizeClientIDSecret(t.Context(), pt.WebClient, pt.WebSecret); err != nil {
				t.Fatalf("web app secret after rotation: %v", err)
			}
			if err := x.Server.OPStore.AuthorizeClientIDSecret(t.Context(), pt.ServiceClient, pt.ServiceSecret); err == nil {
				t.Fatal("an idle client's secret hashed under the old secret still verifies without it")
			}
		})
	})
}

// A value under neither secret stops the rotation with a clear error
// instead of being skipped.
func TestRotateRefusesAThirdSecret(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		oldK, _ := secret.Parse(secret.Generate())
		other, _ := secret.Parse(secret.Generate())
		newK, _ := secret.Parse(secret.Generate())
		plugintest.Fill(t, url, oldK)
		g, err := db.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close(g) })
		if _, err := rekey.Rotate(t.Context(), g, newK, other, rekey.Options{}); !errors.Is(err, rekey.ErrNeither) {
			t.Fatalf("err = %v, want ErrNeither", err)
		}
		if _, err := rekey.Rotate(t.Context(), g, newK, newK, rekey.Options{}); err == nil {
			t.Fatal("rotating to the same secret was accepted")
		}
	})
}
