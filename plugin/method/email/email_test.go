package email_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/email"
	"github.com/latchkeyid/latchkey/plugin/method/methodtest"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/plugin/sender/outbox"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/ui/mail"
)

type fixture struct {
	m     *email.Method
	store *method.Store
	queue *sender.Queue
	box   *outbox.Outbox
	clk   *methodtest.Clock
	g     *gorm.DB
}

func setup(t *testing.T, g *gorm.DB, opts ...email.Option) fixture {
	keys, _ := secret.Parse(secret.Generate())
	clk := methodtest.NewClock()
	box := outbox.New()
	q := sender.NewQueue(g, keys, []sender.Sender{box})
	tmpl, err := mail.New("https://id.example.com")
	if err != nil {
		t.Fatal(err)
	}
	codes := method.NewCodes(g, keys, method.WithCodeClock(clk.Now))
	return fixture{m: email.New(codes, q, tmpl, keys, opts...), store: method.NewStore(g, method.WithStoreClock(clk.Now)), queue: q, box: box, clk: clk, g: g}
}

// code delivers the queue and reads the newest code sent to addr.
func (f fixture) code(t *testing.T, addr string) string {
	t.Helper()
	if _, err := f.queue.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := f.box.Code(addr)
	if c == "" {
		t.Fatalf("no code sent to %s", addr)
	}
	return c
}

func TestBehaviour(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g)
		u := method.Ref{ID: "user-1", Username: "alice", Email: "alice@corp.example"}
		methodtest.Run(t, methodtest.Harness{
			Method: f.m, Store: f.store, User: u,
			Register: method.Input{"address": "alice.private@example.com"},
			Confirm: func(t *testing.T, p method.Pending) method.Input {
				return method.Input{"code": f.code(t, "alice.private@example.com")}
			},
			Right: func(t *testing.T, _ method.Enrollment, _ method.Challenge) method.Input {
				return method.Input{"code": f.code(t, "alice.private@example.com")}
			},
			Wrong:   func(t *testing.T, _ method.Challenge) method.Input { return method.Input{"code": "12345678x"} },
			Advance: f.clk.Advance, Expiry: 10 * time.Minute,
		})
	})
}

func TestRecipientOnlyFromEnrollment(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g)
		ctx := t.Context()
		u := method.Ref{ID: "user-2", Username: "bob"}
		p, err := f.m.Begin(ctx, "reg-flow", u, method.Input{"address": "bob@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if p.Label != "b•••b@example.com" || p.Prompt.Destination != p.Label {
			t.Fatalf("label %q", p.Label)
		}
		e, res, err := f.m.Finish(ctx, "reg-flow", u, p, method.Input{"code": f.code(t, "bob@example.com")})
		if err != nil || !res.OK {
			t.Fatal(res, err)
		}
		if err := f.store.Add(ctx, &e, 0); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(e.Data), "bob@") {
			t.Fatal("address stored in clear")
		}
		f.box.Clear()
		// Whatever the answer input carries, the code goes to the stored
		// address only (GitLab CVE-2023-7028).
		c, err := f.m.Challenge(ctx, "rec-flow", u, e)
		if err != nil {
			t.Fatal(err)
		}
		// Delivered before the resend is queued, so the outbox holds the
		// two codes in the order they were sent.
		f.queue.Drain(ctx)
		if _, err := f.m.Resend(ctx, "rec-flow", u, e, c); err != nil {
			t.Fatal(err)
		}
		f.queue.Drain(ctx)
		for _, r := range f.box.Messages() {
			if r.To != "bob@example.com" {
				t.Fatalf("message sent to %q", r.To)
			}
			if !strings.Contains(r.HTML, "https://id.example.com") || r.Subject == "" || r.Text == "" {
				t.Fatalf("message not multipart or links not from the issuer: %+v", r.Message)
			}
		}
		if n := len(f.box.Messages()); n != 2 {
			t.Fatalf("%d messages, want 2", n)
		}
		// The resent code works; the first does not.
		msgs := f.box.Messages()
		first, second := codeIn(msgs[0].Text), codeIn(msgs[1].Text)
		if first != second {
			if res, _ := f.m.Verify(ctx, "rec-flow", u, e, c, method.Input{"code": first}); res.OK {
				t.Fatal("overwritten code accepted")
			}
		}
		if res, _ := f.m.Verify(ctx, "rec-flow", u, e, c, method.Input{"code": second}); !res.OK {
			t.Fatal("resent code refused")
		}
	})
}

func codeIn(s string) string {
	for _, w := range strings.Fields(s) {
		if len(w) == 8 && strings.Trim(w, "0123456789") == "" {
			return w
		}
	}
	return ""
}

func TestDecoySendsNothing(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g)
		d := method.Enrollment{ID: "decoy-1", Method: method.Email, Label: "j•••n@example.com"}
		c, err := f.m.Challenge(t.Context(), "flow", method.Ref{Decoy: true}, d)
		if err != nil || c.Prompt.Destination != d.Label {
			t.Fatalf("decoy challenge = %+v, %v", c, err)
		}
		if _, err := f.m.Resend(t.Context(), "flow", method.Ref{Decoy: true}, d, c); err != nil {
			t.Fatal(err)
		}
		if n, _ := f.queue.Pending(t.Context()); n != 0 {
			t.Fatalf("%d messages queued for a decoy", n)
		}
	})
}

func TestBadAddresses(t *testing.T) {
	for _, in := range []string{"", "nope", "a@b", "Eve <eve@example.com>", "a@example.com, b@example.com",
		"a@example.com\r\nBcc: x@example.com", strings.Repeat("a", 250) + "@example.com", "a b@example.com"} {
		t.Run(strings.ReplaceAll(in, " ", "-"), func(t *testing.T) {
			if _, err := email.ParseAddress(in); !errors.Is(err, method.ErrInvalid) {
				t.Fatalf("ParseAddress(%q) err = %v, want ErrInvalid", in, err)
			}
		})
	}
	if got, err := email.ParseAddress("  Alice@Example.com "); err != nil || got != "Alice@Example.com" {
		t.Fatalf("ParseAddress = %q, %v", got, err)
	}
}

func TestPerAddressLimit(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		clk := methodtest.NewClock()
		lim := ratelimit.New(g, ratelimit.WithClock(clk.Now))
		f := setup(t, g, email.WithLimiter(lim, email.Limits{
			PerAddress: ratelimit.Rule{Scope: "email-to", Limit: 10, Window: 10 * time.Minute},
			PerUser:    ratelimit.Rule{Scope: "email-user", Limit: 100, Window: time.Hour},
		}))
		ctx := t.Context()
		// Ten registrations to one address from ten users pass; the 11th is refused.
		for i := range 11 {
			u := method.Ref{ID: "u" + string(rune('a'+i))}
			_, err := f.m.Begin(ctx, "flow", u, method.Input{"address": "Target@Example.com"})
			if i < 10 && err != nil {
				t.Fatalf("send %d: %v", i+1, err)
			}
			if i == 10 {
				var rl *method.RateLimitError
				if !errors.As(err, &rl) || rl.RetryAfter <= 0 {
					t.Fatalf("11th send: %v, want a rate-limit error", err)
				}
			}
		}
		// Case and spacing do not make a new address.
		if _, err := f.m.Begin(ctx, "flow", method.Ref{ID: "uz"}, method.Input{"address": "target@example.com"}); !errors.Is(err, method.ErrRateLimited) {
			t.Fatalf("same address in other case: %v", err)
		}
		clk.Advance(10*time.Minute + time.Minute)
		if _, err := f.m.Begin(ctx, "flow", method.Ref{ID: "uy"}, method.Input{"address": "target@example.com"}); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}

func TestPerIPLimitAndDecoyLimit(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		clk := methodtest.NewClock()
		lim := ratelimit.New(g, ratelimit.WithClock(clk.Now))
		f := setup(t, g, email.WithLimiter(lim, email.Limits{
			PerAddress: ratelimit.Rule{Scope: "email-to", Limit: 3, Window: 10 * time.Minute},
			PerIP:      ratelimit.Rule{Scope: "email-ip", Limit: 2, Window: time.Hour},
		}))
		ctx := method.WithRequest(t.Context(), method.Request{IP: "192.0.2.7"})
		for i, addr := range []string{"a@example.com", "b@example.com", "c@example.com"} {
			_, err := f.m.Begin(ctx, "flow", method.Ref{ID: "u" + addr}, method.Input{"address": addr})
			if (i < 2) != (err == nil) {
				t.Fatalf("send %d from one IP: %v", i+1, err)
			}
		}
		// A decoy is limited per decoy enrollment like a real address.
		d := method.Enrollment{ID: "decoy-lim", Method: method.Email, Label: "x•••y@example.com"}
		for i := range 4 {
			_, err := f.m.Challenge(t.Context(), "flow", method.Ref{Decoy: true, ID: "decoy:subject"}, d)
			if (i < 3) != (err == nil) {
				t.Fatalf("decoy send %d: %v", i+1, err)
			}
		}
	})
}

func TestUnavailableWithoutSender(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		keys, _ := secret.Parse(secret.Generate())
		tmpl, _ := mail.New("https://id.example.com")
		m := email.New(method.NewCodes(g, keys), sender.NewQueue(g, keys, nil), tmpl, keys)
		if m.Available() {
			t.Fatal("available without a sender")
		}
		if _, err := m.Begin(t.Context(), "f", method.Ref{ID: "u"}, method.Input{"address": "a@example.com"}); !errors.Is(err, method.ErrUnavailable) {
			t.Fatalf("Begin: %v", err)
		}
		if _, err := m.Challenge(t.Context(), "f", method.Ref{Decoy: true}, method.Enrollment{ID: "d", Method: method.Email}); !errors.Is(err, method.ErrUnavailable) {
			t.Fatalf("Challenge: %v", err)
		}
		var n int64
		g.Table("sspr_challenges").Count(&n)
		if n != 0 {
			t.Fatalf("%d challenges made without a sender", n)
		}
	})
}
