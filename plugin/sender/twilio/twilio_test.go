package twilio_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/plugin/sender/twilio"
	"github.com/latchkeyid/latchkey/plugin/sender/twilio/twiliotest"
)

func client(t *testing.T, srv *twiliotest.Server) *twilio.Client {
	t.Helper()
	c, err := twilio.New(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func noProblems(t *testing.T, srv *twiliotest.Server) {
	t.Helper()
	if p := srv.Problems(); len(p) > 0 {
		t.Fatalf("gateway saw protocol problems: %q", p)
	}
}

func TestSMSThroughMessagesResource(t *testing.T) {
	srv := twiliotest.New(t)
	c := client(t, srv)
	s := c.SMS()
	if s.Channel() != sender.SMS {
		t.Fatalf("channel %s", s.Channel())
	}
	err := s.Send(t.Context(), sender.Message{Channel: sender.SMS, To: "+14155550142", Text: "Your code is 12345678."})
	if err != nil {
		t.Fatal(err)
	}
	noProblems(t, srv)
	ms := srv.Messages()
	if len(ms) != 1 || ms[0] != (twiliotest.SMS{To: "+14155550142", From: twiliotest.From, Body: "Your code is 12345678."}) {
		t.Fatalf("messages = %+v", ms)
	}
	if len(srv.Calls()) != 0 {
		t.Fatal("an SMS made a call")
	}
	// A voice message is never given to the SMS sender.
	if err := s.Send(t.Context(), sender.Message{Channel: sender.Voice, To: "+14155550142", Text: "x"}); !errors.Is(err, sender.ErrPermanent) {
		t.Fatalf("voice on SMS sender: %v", err)
	}
}

func TestMessagingServiceSID(t *testing.T) {
	srv := twiliotest.New(t)
	cfg := srv.Config()
	cfg.From = "MG0123456789abcdef0123456789abcdef"
	c, err := twilio.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendSMS(t.Context(), "+14155550142", "hello"); err != nil {
		t.Fatal(err)
	}
	noProblems(t, srv)
	if ms := srv.Messages(); len(ms) != 1 || ms[0].From != "" {
		t.Fatalf("messages = %+v, want MessagingServiceSid instead of From", ms)
	}
}

func TestCallSaysTextTwiceAndDialsExtension(t *testing.T) {
	tests := []struct {
		name, lang, ext, wantLang, wantDigits string
	}{
		{"english-no-extension", "en", "", "en-US", ""},
		{"british", "en-GB", "", "en-GB", ""},
		{"french-canadian", "fr-CA", "", "fr-CA", ""},
		{"german-austria", "de-AT", "", "de-DE", ""},
		{"unsupported-language-falls-back", "tlh", "", "en-US", ""},
		{"garbage-language", "not a tag!", "", "en-US", ""},
		{"office-extension", "en", "1234", "en-US", "ww1234"},
		{"ten-digit-extension", "en", "0123456789", "en-US", "ww0123456789"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := twiliotest.New(t)
			v := client(t, srv).Voice()
			text := "Your code is: 1, 2, 3, 4, 5, 6, 7, 8."
			err := v.Send(t.Context(), sender.Message{Channel: sender.Voice, To: "+14155550142", Text: text, Lang: tc.lang, Extension: tc.ext})
			if err != nil {
				t.Fatal(err)
			}
			noProblems(t, srv)
			cs := srv.Calls()
			if len(cs) != 1 {
				t.Fatalf("calls = %+v", cs)
			}
			c := cs[0]
			if c.To != "+14155550142" || c.From != twiliotest.From || c.SendDigits != tc.wantDigits {
				t.Fatalf("call = %+v", c)
			}
			if len(c.Says) != 2 {
				t.Fatalf("says = %+v, want the text twice", c.Says)
			}
			for _, s := range c.Says {
				if s.Text != text || s.Language != tc.wantLang {
					t.Fatalf("say = %+v, want %q in %s", s, text, tc.wantLang)
				}
			}
			if got := twiliotest.SpokenCode(c); got != "12345678" {
				t.Fatalf("spoken code %q", got)
			}
		})
	}
}

func TestTwiMLEscapesText(t *testing.T) {
	srv := twiliotest.New(t)
	text := `</Say><Play>http://evil.example/x.mp3</Play><Say>&"'`
	if err := client(t, srv).Call(t.Context(), "+14155550142", text, "en", ""); err != nil {
		t.Fatal(err)
	}
	noProblems(t, srv)
	c := srv.Calls()[0]
	if len(c.Says) != 2 || c.Says[0].Text != text || strings.Contains(c.Twiml, "<Play>") {
		t.Fatalf("TwiML injection: %s", c.Twiml)
	}
}

func TestBadExtensionNeverDialled(t *testing.T) {
	srv := twiliotest.New(t)
	c := client(t, srv)
	for _, ext := range []string{"12a", "1#", "ww12", "01234567890", " 12", "１２"} {
		if err := c.Call(t.Context(), "+14155550142", "x", "en", ext); !errors.Is(err, sender.ErrPermanent) {
			t.Fatalf("extension %q: err = %v, want permanent", ext, err)
		}
	}
	if srv.Requests() != 0 {
		t.Fatalf("%d requests for refused extensions", srv.Requests())
	}
}

func TestGatewayFailures(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		delay     time.Duration
		permanent bool
		timeout   bool
		code      int
	}{
		{"bad-request", 400, "", 0, true, false, 30008},
		{"unauthorized", 401, "", 0, true, false, 30008},
		{"rate-limited", 429, "", 0, false, false, 30008},
		{"server-error", 500, "", 0, false, false, 30008},
		{"unavailable-html-body", 503, "<html>secret-internal-detail</html>", 0, false, false, 0},
		{"timeout", 0, "", 3 * time.Second, false, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := twiliotest.New(t)
			if tc.status != 0 {
				srv.Fail(tc.status, tc.body)
			}
			srv.Delay(tc.delay)
			cfg := srv.Config()
			cfg.Timeout = 200 * time.Millisecond
			c, err := twilio.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, send := range []func() error{
				func() error { return c.SendSMS(t.Context(), "+14155550142", "code 12345678") },
				func() error { return c.Call(t.Context(), "+14155550142", "1, 2", "en", "") },
			} {
				err := send()
				var ge *twilio.GatewayError
				if !errors.As(err, &ge) || !errors.Is(err, twilio.ErrGateway) {
					t.Fatalf("err = %v, want *GatewayError", err)
				}
				if ge.Status != tc.status || ge.Timeout != tc.timeout || ge.Code != tc.code {
					t.Fatalf("gateway error = %+v", ge)
				}
				if errors.Is(err, sender.ErrPermanent) != tc.permanent {
					t.Fatalf("permanent = %v, want %v", !tc.permanent, tc.permanent)
				}
				for _, leak := range []string{"secret-internal-detail", "Unknown error", twiliotest.Token, twiliotest.SID, "12345678"} {
					if strings.Contains(err.Error(), leak) {
						t.Fatalf("error %q leaks %q", err, leak)
					}
				}
			}
		})
	}
}

func TestUnreachableGateway(t *testing.T) {
	srv := twiliotest.New(t)
	cfg := srv.Config()
	dead := httptest.NewServer(http.NotFoundHandler())
	cfg.URL = dead.URL
	dead.Close()
	c, err := twilio.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = c.SendSMS(t.Context(), "+14155550142", "x")
	var ge *twilio.GatewayError
	if !errors.As(err, &ge) || ge.Status != 0 || errors.Is(err, sender.ErrPermanent) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), twiliotest.SID) {
		t.Fatalf("error leaks the account SID: %v", err)
	}
}

func TestWrongCredentialsRejected(t *testing.T) {
	srv := twiliotest.New(t)
	cfg := srv.Config()
	cfg.AuthToken = "wrong"
	c, err := twilio.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = c.SendSMS(t.Context(), "+14155550142", "x")
	var ge *twilio.GatewayError
	if !errors.As(err, &ge) || ge.Status != http.StatusUnauthorized || ge.Code != 20003 {
		t.Fatalf("err = %v", err)
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("message accepted with a wrong token")
	}
}

// A redirect is a failure; the credentials never reach its target.
func TestRedirectNotFollowed(t *testing.T) {
	var hits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer other.Close()
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redir.Close()
	c, err := twilio.New(twilio.Config{URL: redir.URL, AccountSID: "AC1", AuthToken: "tok", From: "+15005550006"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.SendSMS(t.Context(), "+14155550142", "x")
	var ge *twilio.GatewayError
	if !errors.As(err, &ge) || ge.Status != http.StatusTemporaryRedirect {
		t.Fatalf("err = %v", err)
	}
	if hits.Load() != 0 {
		t.Fatal("redirect followed")
	}
}

func TestConfig(t *testing.T) {
	ok := twilio.Config{URL: "https://api.twilio.com", AccountSID: "AC1", AuthToken: "t", From: "+15005550006"}
	tests := []struct {
		name  string
		edit  func(*twilio.Config)
		valid bool
	}{
		{"complete", func(*twilio.Config) {}, true},
		{"default-url", func(c *twilio.Config) { c.URL = "" }, true},
		{"http-loopback", func(c *twilio.Config) { c.URL = "http://127.0.0.1:8080" }, true},
		{"http-localhost", func(c *twilio.Config) { c.URL = "http://localhost:8080/" }, true},
		{"http-remote", func(c *twilio.Config) { c.URL = "http://gateway.example.com" }, false},
		{"ftp", func(c *twilio.Config) { c.URL = "ftp://gateway.example.com" }, false},
		{"relative", func(c *twilio.Config) { c.URL = "/api" }, false},
		{"userinfo", func(c *twilio.Config) { c.URL = "https://u:p@gateway.example.com" }, false},
		{"query", func(c *twilio.Config) { c.URL = "https://gateway.example.com/?x=1" }, false},
		{"no-sid", func(c *twilio.Config) { c.AccountSID = "" }, false},
		{"sid-with-slash", func(c *twilio.Config) { c.AccountSID = "AC1/../x" }, false},
		{"no-token", func(c *twilio.Config) { c.AuthToken = "" }, false},
		{"no-from", func(c *twilio.Config) { c.From = "" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			_, err := twilio.New(c)
			if (err == nil) != tc.valid {
				t.Fatalf("New(%+v) = %v, want valid=%v", c, err, tc.valid)
			}
			if err != nil && !errors.Is(err, twilio.ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
}

func TestLanguage(t *testing.T) {
	for in, want := range map[string]string{"en": "en-US", "en-AU": "en-GB", "fr": "fr-FR", "fr-BE": "fr-FR", "es-419": "es-MX",
		"pt": "pt-BR", "pt-PT": "pt-PT", "nl-BE": "nl-NL", "it": "it-IT", "zz": "en-US", "": "en-US"} {
		if got := twilio.Language(in); got != want {
			t.Errorf("Language(%q) = %q, want %q", in, got, want)
		}
	}
}
