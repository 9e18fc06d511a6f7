package console

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

func TestTransport(t *testing.T) {
	origin, _ := url.Parse("https://id.example.com")
	next := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "first line\n")
		<-next // the caller has the first line before the rest is written
		_, _ = io.WriteString(w, "second line\n")
	})
	mux.HandleFunc("/who", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Remote", r.RemoteAddr)
		w.WriteHeader(http.StatusTeapot)
	})
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	c := &http.Client{Transport: &Transport{Origin: origin, Handler: mux}}

	t.Run("streams", func(t *testing.T) {
		got := make(chan *http.Response, 1)
		go func() {
			res, err := c.Get("https://id.example.com/stream")
			if err != nil {
				t.Error(err)
				close(got)
				return
			}
			got <- res
		}()
		var res *http.Response
		select {
		case res = <-got:
		case <-time.After(time.Minute): // a deadlock, not a slow machine
			close(next)
			t.Fatal("the response waited for the whole body")
		}
		if res == nil {
			t.FailNow()
		}
		defer res.Body.Close()
		r := bufio.NewReader(res.Body)
		if line, err := r.ReadString('\n'); err != nil || line != "first line\n" || res.Header.Get("Content-Type") != "text/csv" {
			t.Fatalf("first line %q, %v, header %v", line, err, res.Header)
		}
		close(next)
		if rest, err := io.ReadAll(r); err != nil || string(rest) != "second line\n" {
			t.Fatalf("rest %q, %v", rest, err)
		}
	})
	t.Run("status-and-browser-address", func(t *testing.T) {
		browser := httptest.NewRequest(http.MethodGet, "/admin", nil)
		browser.RemoteAddr = "203.0.113.7:4242"
		req, _ := http.NewRequestWithContext(withBrowser(t.Context(), browser), http.MethodGet, "https://id.example.com/who", nil)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusTeapot || res.Header.Get("X-Remote") != "203.0.113.7:4242" {
			t.Fatalf("%d %v", res.StatusCode, res.Header)
		}
	})
	t.Run("a-panic-is-a-500", func(t *testing.T) {
		res, err := c.Get("https://id.example.com/panic")
		if err != nil {
			t.Fatal(err)
		}
		_, rerr := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusInternalServerError || rerr == nil {
			t.Fatalf("%d, body error %v", res.StatusCode, rerr)
		}
	})
	t.Run("other-origin", func(t *testing.T) {
		if _, err := c.Get("https://evil.example.com/stream"); err == nil {
			t.Fatal("a request to another origin was served")
		}
	})
}
