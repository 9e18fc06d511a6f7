package plugin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func FuzzForm(f *testing.F) {
	for _, s := range []string{"username=alice", "username=a&username=b", "username[]=a", "csrf=x&answer.0=y",
		"%zz", strings.Repeat("a=b&", 3000), "code=12345678&answer.4=" + strings.Repeat("x", 2000)} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, body, query string) {
		e := echo.New()
		req := httptest.NewRequest(http.MethodPost, "/recover", strings.NewReader(body))
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		c := e.NewContext(req, httptest.NewRecorder())
		got, err := form(c, "username", "answer.*", "code")
		if err != nil {
			return
		}
		for k, v := range got {
			if k != "username" && k != "code" && !strings.HasPrefix(k, "answer.") {
				t.Fatalf("unexpected field %q", k)
			}
			if len(v) > 1024 {
				t.Fatalf("field %q too long", k)
			}
		}
	})
}

func TestFormRejects(t *testing.T) {
	for name, body := range map[string]string{
		"duplicate": "username=a&username=b", "array": "username[]=a", "unknown": "email=x", "long": "username=" + strings.Repeat("a", 2000),
	} {
		t.Run(name, func(t *testing.T) {
			e := echo.New()
			req := httptest.NewRequest(http.MethodPost, "/recover", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if _, err := form(e.NewContext(req, httptest.NewRecorder()), "username"); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
