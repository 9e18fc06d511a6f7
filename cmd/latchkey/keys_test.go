package main

import (
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/config"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/keys"
)

func TestKeysCommands(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		c := newCLI(t, url)
		out := c.must("", "keys", "list")
		if strings.Count(out, "signing") != 2 || !strings.Contains(out, "RS256") || !strings.Contains(out, "ES256") {
			t.Fatalf("first list should show one signing RS256 and ES256 key:\n%s", out)
		}
		out = c.must("", "keys", "rotate", "--alg", "RS256")
		if !strings.Contains(out, "RS256 signs with") || !strings.Contains(out, "the current key signs until then") {
			t.Fatalf("rotate: %s", out)
		}
		out = c.must("", "keys", "list")
		// The new key is published ahead: the old one signs until its
		// publish-ahead period ends.
		if strings.Count(out, "signing") != 2 || strings.Count(out, " next ") != 1 || strings.Contains(out, "retired") {
			t.Fatalf("after rotation want 2 signing + 1 next (published, not yet signing):\n%s", out)
		}
		if strings.Contains(strings.ToLower(out), "private") || strings.Contains(out, "BEGIN") {
			t.Fatalf("key list shows private material:\n%s", out)
		}
		if !strings.Contains(c.must("", "audit", "--type", "admin.keys.rotate"), "kid=") {
			t.Fatal("rotation not audited")
		}
		// A different secret cannot open the sealed keys.
		other := newCLI(t, url)
		if r := other.run("", "keys", "rotate"); r.code == 0 {
			t.Fatalf("rotate under another secret succeeded:\n%s", r.out)
		}
	})
}

// `keys opaque-format` shows and sets the format every instance mints
// opaque tokens and codes in (a database nothing has served starts with
// lk2); each change is audited and an unknown name is the operator's
// error.
func TestKeysOpaqueFormat(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		c := newCLI(t, url)
		for _, step := range []struct{ set, want string }{
			{"", "minted as lk2"},
			{"jwe", "minted as jwe"},
			{"lk2", "minted as lk2"},
		} {
			if step.set != "" {
				if out := c.must("", "keys", "opaque-format", step.set); !strings.Contains(out, "as "+step.set+" within") {
					t.Fatalf("set %s: %s", step.set, out)
				}
			}
			if out := c.must("", "keys", "opaque-format"); !strings.Contains(out, step.want) {
				t.Fatalf("after %q: %s, want %q", step.set, out, step.want)
			}
		}
		if r := c.run("", "keys", "opaque-format", "lk3"); r.code != 2 || !strings.Contains(r.err, "jwe or lk2") {
			t.Fatalf("unknown format: exit %d\n%s", r.code, r.err)
		}
		if out := c.must("", "audit", "--type", "admin.keys.opaque-format"); strings.Count(out, "format=") != 2 {
			t.Fatalf("changes not audited:\n%s", out)
		}
	})
}

// The settings' defaults are the key package's: the documented 15 minute
// publish-ahead period and 30 second key cache.
func TestKeySettingsDefaults(t *testing.T) {
	d := config.Defaults()
	if d.KeyPublishLead != keys.DefaultPublishLead || d.KeyRefresh != keys.DefaultRefreshEvery {
		t.Fatalf("config defaults lead %s, refresh %s; keys defaults %s, %s",
			d.KeyPublishLead, d.KeyRefresh, keys.DefaultPublishLead, keys.DefaultRefreshEvery)
	}
}
