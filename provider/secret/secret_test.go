package secret

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"generated", Generate(), true},
		{"too-short", "c2hvcnQ=", false},
		{"not-base64", "!!!", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("Parse(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
			}
		})
	}
}

func TestBoxBindsPurposeAndAAD(t *testing.T) {
	k, err := Parse(Generate())
	if err != nil {
		t.Fatal(err)
	}
	sealed := k.Box("totp").Seal([]byte("seed"), []byte("row-1"))
	if bytes.Contains(sealed, []byte("seed")) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := k.Box("totp").Open(sealed, []byte("row-1"))
	if err != nil || string(got) != "seed" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := k.Box("totp").Open(sealed, []byte("row-2")); !errors.Is(err, ErrOpen) {
		t.Fatalf("other aad: err = %v, want ErrOpen", err)
	}
	if _, err := k.Box("keys").Open(sealed, []byte("row-1")); !errors.Is(err, ErrOpen) {
		t.Fatalf("other purpose: err = %v, want ErrOpen", err)
	}
	other, _ := Parse(Generate())
	if _, err := other.Box("totp").Open(sealed, []byte("row-1")); !errors.Is(err, ErrOpen) {
		t.Fatalf("other secret: err = %v, want ErrOpen", err)
	}
}

func TestMACSeparatesParts(t *testing.T) {
	k, _ := Parse(Generate())
	if bytes.Equal(k.MAC("code", "ab", "c"), k.MAC("code", "a", "bc")) {
		t.Fatal("MAC does not separate parts")
	}
	if bytes.Equal(k.MAC("code", "x"), k.MAC("other", "x")) {
		t.Fatal("MAC does not separate purposes")
	}
}

// During a rotation a keyring opens and verifies under the previous secret
// but seals and MACs only under the current one; without the previous
// secret, old values stop opening.
func TestPrevious(t *testing.T) {
	oldK, _ := Parse(Generate())
	newK, _ := Parse(Generate())
	both := newK.WithPrevious(oldK)
	sealedOld := oldK.Box("totp").Seal([]byte("seed"), []byte("r"))
	tests := []struct {
		name string
		k    *Keyring
		open bool
	}{
		{"new-with-previous-opens-old", both, true},
		{"new-alone-refuses-old", newK, false},
		{"current-drops-previous", both.Current(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.k.Box("totp").Open(sealedOld, []byte("r"))
			if (err == nil) != tt.open {
				t.Fatalf("Open err = %v, want open=%v", err, tt.open)
			}
		})
	}
	t.Run("seals-under-current", func(t *testing.T) {
		s := both.Box("totp").Seal([]byte("seed"), []byte("r"))
		if _, err := newK.Box("totp").Open(s, []byte("r")); err != nil {
			t.Fatalf("sealed under previous: %v", err)
		}
	})
	t.Run("verify-reports-which", func(t *testing.T) {
		if ok, cur := both.Verify(oldK.MAC("p", "x"), "p", "x"); !ok || cur {
			t.Fatalf("old MAC: ok=%v current=%v", ok, cur)
		}
		if ok, cur := both.Verify(newK.MAC("p", "x"), "p", "x"); !ok || !cur {
			t.Fatalf("new MAC: ok=%v current=%v", ok, cur)
		}
		if ok, _ := newK.Verify(oldK.MAC("p", "x"), "p", "x"); ok {
			t.Fatal("old MAC verified without previous")
		}
		if len(both.MACs("p", "x")) != 2 || len(newK.MACs("p", "x")) != 1 {
			t.Fatal("MACs count")
		}
	})
	t.Run("fingerprint-names-current", func(t *testing.T) {
		if both.Fingerprint() != newK.Fingerprint() || newK.Fingerprint() == oldK.Fingerprint() {
			t.Fatal("fingerprint")
		}
	})
}

// Stored MACs (client secrets, code and token hashes) must keep matching:
// the value for a fixed secret is pinned, first use and cached alike, under
// the current secret and as the previous one.
func TestMACIsStable(t *testing.T) {
	const sec = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // bytes 0..31
	const want = "957bada95014a98814bcc1c86a154b42cc7412ee64a938acba7b1ae853a8482f"
	k, err := Parse(sec)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := Parse(Generate())
	rotating := other.WithPrevious(k)
	for i := range 2 {
		if got := hex.EncodeToString(k.MAC("client-secret", "app", "s3cret")); got != want {
			t.Errorf("use %d: MAC = %s, want %s", i, got, want)
		}
		ms := rotating.MACs("client-secret", "app", "s3cret")
		if len(ms) != 2 || hex.EncodeToString(ms[1]) != want || hex.EncodeToString(ms[0]) == want {
			t.Errorf("use %d: MACs while rotating = %x, want the previous secret's second", i, ms)
		}
	}
}
