package secret

import (
	"bytes"
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
