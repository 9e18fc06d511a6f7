package opstore

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzCheckRedirect: registration never panics, and whatever it accepts is
// an absolute URI without fragment, https, loopback http, or (public
// clients only) a custom scheme.
func FuzzCheckRedirect(f *testing.F) {
	for _, s := range []string{
		"https://app.example.com/cb", "http://127.0.0.1:8080/cb", "http://localhost/cb", "http://[::1]:9/cb",
		"com.example.app:/cb", "http://evil.example/cb", "https://a.example/cb#frag", "/relative", "",
		"javascript:alert(1)", "https://", "http://localhost.evil.example/", "HTTPS://A.EXAMPLE/", "https://a b/",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, public bool) {
		if checkRedirect(raw, public) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() || strings.Contains(raw, "#") {
			t.Fatalf("accepted %q", raw)
		}
		switch u.Scheme {
		case "https":
			if u.Host == "" {
				t.Fatalf("accepted https without host %q", raw)
			}
		case "http":
			if h := u.Hostname(); h != "localhost" && h != "127.0.0.1" && h != "::1" {
				t.Fatalf("accepted non-loopback http %q", raw)
			}
		default:
			if !public || !strings.Contains(u.Scheme, ".") {
				t.Fatalf("accepted custom scheme %q (public=%v)", raw, public)
			}
		}
	})
}
