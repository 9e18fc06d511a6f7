package web_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/provider/web"
)

// TestErrorLogCarriesRequestID: the error handler's line for a failed
// request names the request id the response carries, so an operator can
// go from a user's reported id to the cause.
func TestErrorLogCarriesRequestID(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(web.LogHandler(slog.NewJSONHandler(&buf, nil))))
	t.Cleanup(func() { slog.SetDefault(old) })

	e := echo.New()
	e.HTTPErrorHandler = web.ErrorHandler(nil, nil)
	e.Use(web.RequestID(nil))
	e.GET("/fail", func(echo.Context) error { return errors.New("database on fire") })
	srv := httptest.NewServer(e)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/fail")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get(web.RequestIDHeader)
	if resp.StatusCode != http.StatusInternalServerError || id == "" {
		t.Fatalf("status %d, request id %q", resp.StatusCode, id)
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log %q: %v", buf.String(), err)
	}
	if line["msg"] != "request failed" || line["request_id"] != id {
		t.Fatalf("error log line %v, want request_id %q", line, id)
	}
}
