package plugin

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/method"
)

// Methods enforce per-IP send limits and pick the call language from the
// request facts; without them those limits would silently not apply.
func TestRequestFactsReachMethods(t *testing.T) {
	e := echo.New()
	var got method.Request
	h := requestFacts(func(c echo.Context) error {
		got = method.RequestFrom(c.Request().Context())
		return nil
	})
	req := httptest.NewRequest(http.MethodPost, "/recover", nil)
	req.RemoteAddr = "192.0.2.7:5555"
	req.Header.Set("User-Agent", "test-agent")
	req.Header.Set("Accept-Language", "de-DE")
	if err := h(e.NewContext(req, httptest.NewRecorder())); err != nil {
		t.Fatal(err)
	}
	want := method.Request{IP: "192.0.2.7", UserAgent: "test-agent", AcceptLanguage: "de-DE"}
	if got != want {
		t.Fatalf("request facts = %+v, want %+v", got, want)
	}
}
