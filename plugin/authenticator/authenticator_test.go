package authenticator_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/authenticator"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
)

func TestParseLink(t *testing.T) {
	for _, tt := range []struct {
		name, link, issuer, token string
	}{
		{"root", "https://id.example.com/static/authenticator/#enroll=ABC", "https://id.example.com", "ABC"},
		{"path-prefix", "https://example.com/sso/static/authenticator/#enroll=XYZ", "https://example.com/sso", "XYZ"},
		{"loopback-http", "http://127.0.0.1:8080/static/authenticator/#enroll=T", "http://127.0.0.1:8080", "T"},
		{"no-token", "https://id.example.com/static/authenticator/", "", ""},
		{"token-in-query", "https://id.example.com/static/authenticator/?enroll=ABC", "", ""},
		{"other-path", "https://id.example.com/evil/#enroll=ABC", "", ""},
		{"not-a-url", "otpauth://totp/x?secret=AAAA", "", ""},
		{"empty", "", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			iss, tok, err := authenticator.ParseLink(tt.link)
			if tt.issuer == "" {
				if !errors.Is(err, authenticator.ErrNotLink) {
					t.Fatalf("ParseLink = %q %q %v, want ErrNotLink", iss, tok, err)
				}
				return
			}
			if err != nil || iss != tt.issuer || tok != tt.token {
				t.Fatalf("ParseLink = %q %q %v", iss, tok, err)
			}
		})
	}
}

func TestStateAndCodes(t *testing.T) {
	const seed = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	path := filepath.Join(t.TempDir(), "sub", "state.json")
	st, err := authenticator.Load(path)
	if err != nil || len(st.TOTP) != 0 {
		t.Fatalf("Load(missing) = %+v, %v", st, err)
	}
	for _, bad := range []string{
		"otpauth://hotp/x?secret=" + seed + "&counter=1", // counter-based: not supported
		"otpauth://totp/x",                    // no secret
		"otpauth://totp/x?secret=not*base32",  // bad secret
		"https://example.com/?secret=" + seed, // not otpauth
		"otpauth://totp/x?secret=" + seed + "&algorithm=MD5",
	} {
		if _, err := st.AddTOTP(bad); !errors.Is(err, authenticator.ErrNotTOTP) {
			t.Errorf("AddTOTP(%q) = %v, want ErrNotTOTP", bad, err)
		}
	}
	uri := "otpauth://totp/Latchkey:alice?secret=" + seed + "&issuer=Latchkey"
	for range 2 { // the second add is a no-op
		if _, err := st.AddTOTP(uri); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode: %v %v", fi, err)
	}
	st, err = authenticator.Load(path)
	if err != nil || len(st.TOTP) != 1 {
		t.Fatalf("reloaded = %+v, %v", st, err)
	}
	at := time.Unix(1111111109, 0)
	codes, err := st.Codes(at)
	want, _ := totp.Code(seed, at)
	if err != nil || len(codes) != 1 || codes[0].Code != want || codes[0].Name != "alice" || codes[0].Issuer != "Latchkey" ||
		codes[0].Remaining != time.Second {
		t.Fatalf("Codes = %+v, %v; want %s", codes, err, want)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := authenticator.Load(path); err == nil {
		t.Fatal("a corrupt state file loaded")
	}
}

// FuzzParseLink: any text is a link with an issuer and a token, or
// ErrNotLink; never a panic.
func FuzzParseLink(f *testing.F) {
	for _, s := range []string{"https://id.example.com/static/authenticator/#enroll=ABC", "", "http://[::1", "https://x/static/authenticator/#enroll=%zz", "otpauth://totp/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		iss, tok, err := authenticator.ParseLink(s)
		if err == nil && (iss == "" || tok == "") {
			t.Fatalf("ParseLink(%q) = %q, %q", s, iss, tok)
		}
	})
}
