package schema_test

import (
	"testing"

	"github.com/latchkeyid/latchkey/provider/cachever"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/keys"
	"github.com/latchkeyid/latchkey/provider/opaque"
	"github.com/latchkeyid/latchkey/provider/schema"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// TestOpaqueFormatMigration: 0016 seeds the opaque format setting. A
// database an older release has served (it holds signing keys) may still
// have instances of that release reading it, so it starts with the
// library's format; one nothing has served starts with lk2.
func TestOpaqueFormatMigration(t *testing.T) {
	for _, tc := range []struct {
		name   string
		served bool
		want   opaque.Format
	}{
		{"served-by-an-older-release", true, opaque.FormatJWE},
		{"never-served", false, opaque.FormatLK2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, url string) {
				ctx := t.Context()
				g := dbtest.Open(t, url, upTo(t, "0012_audit_filters"))
				if tc.served {
					kr, err := secret.Parse(secret.Generate())
					if err != nil {
						t.Fatal(err)
					}
					if err := keys.New(g, kr).Ensure(ctx); err != nil {
						t.Fatal(err)
					}
				}
				if err := db.Migrate(ctx, g, schema.Set()); err != nil {
					t.Fatal(err)
				}
				v, err := cachever.Get(ctx, g, cachever.OpaqueFormat)
				if err != nil || opaque.Format(v) != tc.want {
					t.Fatalf("opaque format %d (%v), want %d", v, err, tc.want)
				}
			})
		})
	}
}
