package secret_test

import (
	"testing"

	"github.com/latchkeyid/latchkey/provider/secret"
)

// An observer hears every MAC, seal and open, through boxes too, and
// nothing once removed.
func TestObserve(t *testing.T) {
	k, err := secret.Parse(secret.Generate())
	if err != nil {
		t.Fatal(err)
	}
	got := map[secret.Op]int{}
	k.Observe(func(op secret.Op) { got[op]++ })
	b := k.Box("test")
	k.MAC("test", "a")
	sealed := b.Seal([]byte("x"), nil)
	if _, err := b.Open(sealed, nil); err != nil {
		t.Fatal(err)
	}
	_, _ = b.Open([]byte("short"), nil)
	if got[secret.OpMAC] != 1 || got[secret.OpSeal] != 1 || got[secret.OpOpen] != 2 {
		t.Fatalf("observed %v", got)
	}
	k.Observe(nil)
	k.MAC("test", "b")
	if got[secret.OpMAC] != 1 {
		t.Fatalf("heard after Observe(nil): %v", got)
	}
}
