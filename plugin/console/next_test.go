package console

import "testing"

// cleanNext turns every return target that is not a console page of this
// server into the console's home: it becomes a redirect after sign-in.
func TestCleanNext(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/admin", "/admin"},
		{"/admin/apps?cursor=x", "/admin/apps?cursor=x"},
		{"/admin/apps/wiki/edit", "/admin/apps/wiki/edit"},
		{"", "/admin"},
		{"https://evil.example/admin", "/admin"},
		{"//evil.example/admin", "/admin"},
		{"/\\evil.example", "/admin"},
		{"/administrator", "/admin"},
		{"/admin/../login", "/admin"},
		{"/admin/api/v1/apps", "/admin"},
		{"/admin/callback?code=x", "/admin"},
		{"/security-info", "/admin"},
		{"/admin\r\nSet-Cookie: x=1", "/admin"},
		{"javascript:alert(1)", "/admin"},
	} {
		if got := cleanNext(tc.in); got != tc.want {
			t.Errorf("cleanNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
