package outbox_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/plugin/sender/outbox"
	"github.com/latchkeyid/latchkey/ui"
)

func TestRecorder(t *testing.T) {
	o := outbox.New(outbox.WithMax(2))
	ctx := t.Context()
	sms := o.Sender(sender.SMS)
	if sms.Channel() != sender.SMS || o.Channel() != sender.Email {
		t.Fatal("channels")
	}
	for i, to := range []string{"a@example.com", "b@example.com", "a@example.com"} {
		if err := o.Send(ctx, sender.Message{Channel: sender.Email, To: to, Subject: "s", Text: "code 1234567" + string(rune('0'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(o.Messages()); n != 2 {
		t.Fatalf("kept %d, want 2", n)
	}
	if c := o.Code("a@example.com"); c != "12345672" {
		t.Fatalf("Code = %q", c)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	go func() {
		time.Sleep(20 * time.Millisecond)
		_ = sms.Send(ctx, sender.Message{Channel: sender.SMS, To: "+14155550142", Text: "hi"})
	}()
	if r, err := o.Wait(wctx, "+14155550142", nil); err != nil || r.Channel != sender.SMS {
		t.Fatalf("Wait = %+v, %v", r, err)
	}
	o.Fail(errors.New("down"))
	if err := o.Send(ctx, sender.Message{To: "x"}); err == nil {
		t.Fatal("Fail ignored")
	}
}

func TestPage(t *testing.T) {
	r, err := ui.New()
	if err != nil {
		t.Fatal(err)
	}
	if !r.Has("dev-outbox") {
		t.Fatal("ui has no dev-outbox template")
	}
	o := outbox.New()
	o.Send(t.Context(), sender.Message{Channel: sender.Email, To: "alice@example.com", Subject: "Your <code>", Text: "Your code is 12345678"})
	srv := httptest.NewServer(o.Handler(r))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d headers %v", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{"alice@example.com", "Your &lt;code&gt;", "12345678"} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("page lacks %q", want)
		}
	}
	resp, _ = http.Post(srv.URL, "text/plain", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
}
