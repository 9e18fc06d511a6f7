package phone_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/methodtest"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/plugin/sender/twilio"
	"github.com/latchkeyid/latchkey/plugin/sender/twilio/twiliotest"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pschema "github.com/latchkeyid/latchkey/provider/schema"
	"github.com/latchkeyid/latchkey/provider/secret"
)

var sets = []db.Set{pschema.Set(), schema.Set()}

// quiet drops the methods' expected warnings (failed sends in failure tests).
var quiet = slog.New(slog.DiscardHandler)

// noLimits keeps only the allowlist, for tests of other behaviour.
var noLimits = phone.Limits{}

type fixture struct {
	g       *gorm.DB
	clk     *methodtest.Clock
	srv     *twiliotest.Server
	guard   *phone.Guard
	audit   *audit.Log
	store   *method.Store
	codes   *method.Codes
	allowed []string
	m       map[method.Name]*phone.Method // guarded by limits
	free    map[method.Name]*phone.Method // same keys, allowlist only: registers test numbers
}

func setup(t *testing.T, g *gorm.DB, limits phone.Limits) *fixture {
	t.Helper()
	keys, err := secret.Parse(secret.Generate())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{g: g, clk: methodtest.NewClock(), srv: twiliotest.New(t), allowed: []string{"US", "GB"},
		m: map[method.Name]*phone.Method{}, free: map[method.Name]*phone.Method{}}
	f.audit = audit.NewLog(g, audit.WithClock(f.clk.Now))
	f.guard = phone.NewGuard(ratelimit.New(g, ratelimit.WithClock(f.clk.Now)), limits, "US", phone.WithAudit(f.audit), phone.WithGuardLogger(quiet),
		phone.WithCountries(func(context.Context) ([]string, error) { return f.allowed, nil }))
	f.codes = method.NewCodes(g, keys, method.WithCodeClock(f.clk.Now))
	f.store = method.NewStore(g, method.WithStoreClock(f.clk.Now))
	cfg := f.srv.Config()
	cfg.Timeout = 800 * time.Millisecond
	cl, err := twilio.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	free := phone.NewGuard(nil, noLimits, "US", phone.WithCountries(func(context.Context) ([]string, error) { return f.allowed, nil }))
	for _, n := range []method.Name{method.Mobile, method.AlternatePhone, method.OfficePhone} {
		for _, x := range []struct {
			to    map[method.Name]*phone.Method
			guard *phone.Guard
		}{{f.m, f.guard}, {f.free, free}} {
			m, err := phone.New(n, phone.Deps{Codes: f.codes, Keys: keys, Guard: x.guard, SMS: cl.SMS(), Voice: cl.Voice(), DefaultRegion: "US",
				Log: quiet})
			if err != nil {
				t.Fatal(err)
			}
			x.to[n] = m
		}
	}
	return f
}

func withIP(ctx context.Context, ip string) context.Context {
	return method.WithRequest(ctx, method.Request{IP: ip, UserAgent: "test"})
}

func ref(id string) method.Ref { return method.Ref{ID: id, Username: id} }

// register adds number for u with method n outside the limits, proving it
// with the code the gateway received.
func (f *fixture) register(t *testing.T, ctx context.Context, n method.Name, u method.Ref, in method.Input) method.Enrollment {
	t.Helper()
	fid := "reg-" + u.ID
	p, err := f.free[n].Begin(ctx, fid, u, in)
	if err != nil {
		t.Fatalf("Begin(%v): %v", in, err)
	}
	n164, _ := phone.Parse(in["phone"], in["country"], "US", phone.Calls, nil)
	e, res, err := f.free[n].Finish(ctx, fid, u, p, method.Input{"code": f.srv.Code(n164.E164)})
	if err != nil || !res.OK {
		t.Fatalf("Finish: %+v %v", res, err)
	}
	if err := f.store.Add(ctx, &e, 0); err != nil {
		t.Fatal(err)
	}
	return e
}

// live counts challenges that could still be answered (of userID, or of
// everyone when userID is "").
func live(t *testing.T, g *gorm.DB, userID string) int64 {
	t.Helper()
	var n int64
	q := g.Table("sspr_challenges").Where("used_at IS NULL AND tries < ?", method.CodeMaxTries)
	if userID != "" {
		q = q.Where("user_id = ?", userID)
	}
	if err := q.Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func events(t *testing.T, l *audit.Log, typ, userID string) []audit.Event {
	t.Helper()
	evs, err := l.List(context.Background(), audit.Filter{Type: typ, UserID: userID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestBehaviour(t *testing.T) {
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, noLimits)
		for _, tc := range []struct {
			name   method.Name
			in     method.Input
			number string
		}{
			{method.Mobile, method.Input{"phone": "(201) 555-0101"}, "+12015550101"},
			{method.AlternatePhone, method.Input{"phone": "+44 121 234 5678"}, "+441212345678"},
			{method.OfficePhone, method.Input{"phone": "201 555 0103", "country": "US", "extension": "1234"}, "+12015550103"},
		} {
			t.Run(string(tc.name), func(t *testing.T) {
				code := func(t *testing.T) method.Input {
					c := f.srv.Code(tc.number)
					if c == "" {
						t.Fatalf("no code reached %s", tc.number)
					}
					return method.Input{"code": c}
				}
				methodtest.Run(t, methodtest.Harness{
					Method: f.m[tc.name], Store: f.store, User: ref("user-" + string(tc.name)), Register: tc.in,
					Confirm: func(t *testing.T, _ method.Pending) method.Input { return code(t) },
					Right:   func(t *testing.T, _ method.Enrollment, _ method.Challenge) method.Input { return code(t) },
					Wrong:   func(*testing.T, method.Challenge) method.Input { return method.Input{"code": "1234567"} },
					Advance: f.clk.Advance, Expiry: method.CodeTTL,
				})
			})
		}
		if p := f.srv.Problems(); len(p) > 0 {
			t.Fatalf("gateway protocol problems: %q", p)
		}
	})
}

// Issue 4.1: mobile codes travel by text or by call, as the user chooses
// at each challenge; alternate and office phones are only called; the
// office extension is dialled with SendDigits after the line answers.
func TestDeliveryChoices(t *testing.T) {
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, noLimits)
		ctx := t.Context()
		mob := f.register(t, ctx, method.Mobile, ref("u1"), method.Input{"phone": "+12015550111"})
		alt := f.register(t, ctx, method.AlternatePhone, ref("u2"), method.Input{"phone": "+12015550112"})
		off := f.register(t, ctx, method.OfficePhone, ref("u3"), method.Input{"phone": "+12015550113", "extension": "0042"})
		if mob.Label != "+1 ••• ••• ••11" || strings.Contains(string(mob.Data), "2015550111") {
			t.Fatalf("enrollment label %q / data not sealed", mob.Label)
		}
		tests := []struct {
			name       string
			m          method.Name
			e          method.Enrollment
			u          string
			in         method.Input
			wantSMS    bool
			wantDigits string
			invalid    bool
		}{
			{"mobile-default-sms", method.Mobile, mob, "u1", nil, true, "", false},
			{"mobile-sms", method.Mobile, mob, "u1", method.Input{"channel": "sms"}, true, "", false},
			{"mobile-voice", method.Mobile, mob, "u1", method.Input{"channel": "voice"}, false, "", false},
			{"mobile-delivery-alias", method.Mobile, mob, "u1", method.Input{"delivery": "voice"}, false, "", false},
			{"mobile-bad-channel", method.Mobile, mob, "u1", method.Input{"channel": "fax"}, false, "", true},
			{"alternate-voice", method.AlternatePhone, alt, "u2", nil, false, "", false},
			{"alternate-refuses-sms", method.AlternatePhone, alt, "u2", method.Input{"channel": "sms"}, false, "", true},
			{"office-voice-extension", method.OfficePhone, off, "u3", method.Input{"channel": "voice"}, false, "ww0042", false},
			{"office-refuses-sms", method.OfficePhone, off, "u3", method.Input{"channel": "sms"}, false, "", true},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				sms, calls := len(f.srv.Messages()), len(f.srv.Calls())
				fid := "flow-" + tc.name
				c, err := f.m[tc.m].ChallengeInput(ctx, fid, ref(tc.u), tc.e, tc.in)
				if tc.invalid {
					if !errors.Is(err, method.ErrInvalid) || len(f.srv.Messages()) != sms || len(f.srv.Calls()) != calls {
						t.Fatalf("err = %v; want invalid and nothing sent", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if c.Prompt.Destination != tc.e.Label || c.Prompt.Digits != 8 {
					t.Fatalf("prompt = %+v", c.Prompt)
				}
				var code string
				if tc.wantSMS {
					ms := f.srv.Messages()
					if len(ms) != sms+1 || len(f.srv.Calls()) != calls {
						t.Fatal("want exactly one SMS")
					}
					code = f.srv.SMSCode(ms[len(ms)-1].To)
				} else {
					cs := f.srv.Calls()
					if len(cs) != calls+1 || len(f.srv.Messages()) != sms {
						t.Fatal("want exactly one call")
					}
					last := cs[len(cs)-1]
					if last.SendDigits != tc.wantDigits || len(last.Says) != 2 {
						t.Fatalf("call = %+v", last)
					}
					code = twiliotest.SpokenCode(last)
				}
				// A resend goes over the same channel.
				f.clk.Advance(time.Minute)
				if _, err := f.m[tc.m].Resend(ctx, fid, ref(tc.u), tc.e, c); err != nil {
					t.Fatal(err)
				}
				if tc.wantSMS && len(f.srv.Messages()) != sms+2 || !tc.wantSMS && len(f.srv.Calls()) != calls+2 {
					t.Fatal("resend changed the channel")
				}
				if res, _ := f.m[tc.m].Verify(ctx, fid, ref(tc.u), tc.e, c, method.Input{"code": code}); res.OK {
					t.Fatal("the code from before the resend still works")
				}
			})
		}
		if p := f.srv.Problems(); len(p) > 0 {
			t.Fatalf("gateway protocol problems: %q", p)
		}
	})
}

// Checklist 26: a code goes only to the number stored (and proven) in the
// enrollment; nothing in the request can redirect it, and an enrollment
// whose sealed data was swapped from another one is refused.
func TestDestinationOnlyFromEnrollment(t *testing.T) {
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, noLimits)
		ctx := t.Context()
		a := f.register(t, ctx, method.Mobile, ref("dest-a"), method.Input{"phone": "+12015550131"})
		b := f.register(t, ctx, method.Mobile, ref("dest-b"), method.Input{"phone": "+12015550132"})
		in := method.Input{"channel": "sms", "phone": "+19002345678", "to": "+12015550132", "country": "GB"}
		if _, err := f.m[method.Mobile].ChallengeInput(ctx, "flow", ref("dest-a"), a, in); err != nil {
			t.Fatal(err)
		}
		ms := f.srv.Messages()
		if last := ms[len(ms)-1]; last.To != "+12015550131" {
			t.Fatalf("code sent to %s", last.To)
		}
		swapped := a
		swapped.Data = b.Data
		before := f.srv.Requests()
		if _, err := f.m[method.Mobile].Challenge(ctx, "flow", ref("dest-a"), swapped); err == nil {
			t.Fatal("an enrollment with another enrollment's sealed number was used")
		}
		if f.srv.Requests() != before {
			t.Fatal("the gateway was called")
		}
	})
}

// Texts end with the origin-bound line (WebOTP) when a domain is set.
func TestOriginBoundSMS(t *testing.T) {
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, noLimits)
		keys, _ := secret.Parse(secret.Generate())
		cl, _ := twilio.New(f.srv.Config())
		m, err := phone.New(method.Mobile, phone.Deps{Codes: f.codes, Keys: keys, Guard: f.guard, SMS: cl.SMS(), Domain: "id.example.com", Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Begin(t.Context(), "flow", ref("webotp"), method.Input{"phone": "+12015550133"}); err != nil {
			t.Fatal(err)
		}
		body := f.srv.Messages()[0].Body
		code := f.srv.SMSCode("+12015550133")
		if !strings.HasSuffix(body, "\n\n@id.example.com #"+code) || len(body) > 160 {
			t.Fatalf("SMS %q (%d bytes)", body, len(body))
		}
	})
}

// Checklist 50 and 53 at registration: refused numbers and extensions are
// never called. An administrator's Provision refuses the same, for the
// same reason.
func TestRegistrationRefusals(t *testing.T) {
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, noLimits)
		tests := []struct {
			name  string
			m     method.Name
			in    method.Input
			field string
		}{
			{"empty", method.Mobile, method.Input{"phone": ""}, "phone"},
			{"not-a-number", method.Mobile, method.Input{"phone": "call me"}, "phone"},
			{"invalid-digits", method.Mobile, method.Input{"phone": "+1 555 555 5555"}, "phone"},
			{"premium-rate", method.AlternatePhone, method.Input{"phone": "+1 900 234 5678"}, "phone"},
			{"pager", method.AlternatePhone, method.Input{"phone": "+44 7640 123456"}, "phone"},
			{"uan", method.OfficePhone, method.Input{"phone": "+44 55 1234 5678"}, "phone"},
			{"landline-for-mobile", method.Mobile, method.Input{"phone": "+44 121 234 5678"}, "phone"},
			{"toll-free-for-mobile", method.Mobile, method.Input{"phone": "+1 800 234 5678"}, "phone"},
			{"country-not-allowed", method.Mobile, method.Input{"phone": "+33 6 12 34 56 78"}, "phone"},
			{"unknown-country", method.Mobile, method.Input{"phone": "2015550123", "country": "XX"}, "country"},
			{"extension-in-number", method.OfficePhone, method.Input{"phone": "+1 201 555 0123 ext. 12"}, "phone"},
			{"extension-letters", method.OfficePhone, method.Input{"phone": "+12015550120", "extension": "12a"}, "extension"},
			{"extension-too-long", method.OfficePhone, method.Input{"phone": "+12015550120", "extension": "12345678901"}, "extension"},
			{"extension-on-mobile", method.Mobile, method.Input{"phone": "+12015550120", "extension": "12"}, "extension"},
			{"extension-on-alternate", method.AlternatePhone, method.Input{"phone": "+12015550120", "extension": "12"}, "extension"},
			{"alternate-sms", method.AlternatePhone, method.Input{"phone": "+12015550120", "channel": "sms"}, "channel"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.m[tc.m].Begin(t.Context(), "flow", ref("u"), tc.in)
				var ie *method.InvalidError
				if !errors.As(err, &ie) || ie.Field != tc.field {
					t.Fatalf("Begin = %v, want invalid %s", err, tc.field)
				}
				if tc.field == "channel" {
					return // Provision sends nothing, so it takes no channel
				}
				_, err = f.m[tc.m].Provision(t.Context(), "u", tc.in)
				var pe *method.InvalidError
				if !errors.As(err, &pe) || pe.Field != ie.Field || pe.Error() != ie.Error() {
					t.Fatalf("Provision = %v, Begin = %v; want the same refusal", err, ie)
				}
			})
		}
		if f.srv.Requests() != 0 || live(t, g, "") != 0 {
			t.Fatalf("%d gateway requests, %d live challenges for refused registrations", f.srv.Requests(), live(t, g, ""))
		}
	})
}

// Checklist 51: a send to a country outside the allowlist is refused
// without calling the gateway (the allowlist can shrink after a number was
// registered), and audited.
func TestCountryAllowlist(t *testing.T) {
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, noLimits)
		ctx := t.Context()
		e := f.register(t, ctx, method.Mobile, ref("u1"), method.Input{"phone": "07400 123456", "country": "GB"})
		f.allowed = []string{"US"}
		before := f.srv.Requests()
		_, err := f.m[method.Mobile].Challenge(ctx, "flow", ref("u1"), e)
		if !errors.Is(err, phone.ErrCountry) || !errors.Is(err, method.ErrUnavailable) {
			t.Fatalf("Challenge = %v, want ErrCountry", err)
		}
		if f.srv.Requests() != before || live(t, g, "") != 0 {
			t.Fatal("the gateway was called or a challenge was left")
		}
		evs := events(t, f.audit, phone.EventSend, "u1")
		if len(evs) == 0 || evs[0].Outcome != audit.Blocked || !strings.Contains(evs[0].Detail, `"reason":"country"`) {
			t.Fatalf("audit = %+v", evs)
		}
		// The default guard allows only the deployment's region.
		if got, _ := phone.NewGuard(nil, noLimits, "de").Allowed(ctx); len(got) != 1 || got[0] != "DE" {
			t.Fatalf("default allowlist %v", got)
		}
	})
}

// Checklist 52 and 53: each toll-fraud limit trips at its configured count,
// before the gateway is called, and the refusal is audited.
func TestTollFraudLimits(t *testing.T) {
	tests := []struct {
		name   string
		limits phone.Limits
		// send number i: which user, number and IP.
		user, number, ip func(i int) string
		between          time.Duration // clock advance between sends
		allowed          int           // sends that pass
		reason           string
	}{
		{"per-number-10-min", phone.Limits{PerNumber: phone.DefaultLimits.PerNumber},
			fixed("u1"), fixed("+12015550130"), fixed("198.51.100.1"), 0, 3, "number"},
		{"per-number-day", phone.Limits{PerNumber: phone.DefaultLimits.PerNumber, PerNumberDay: phone.DefaultLimits.PerNumberDay},
			fixed("u1"), fixed("+12015550130"), fixed("198.51.100.1"), 4 * time.Minute, 10, "number-day"},
		{"per-user-hour", phone.Limits{PerUser: phone.DefaultLimits.PerUser},
			fixed("u1"), nth("+1201555014"), fixed("198.51.100.1"), 0, 5, "user"},
		{"per-user-day", phone.Limits{PerUser: phone.DefaultLimits.PerUser, PerUserDay: phone.DefaultLimits.PerUserDay},
			fixed("u1"), nth("+1201555016"), fixed("198.51.100.1"), 16 * time.Minute, 15, "user-day"},
		{"per-ip-hour", phone.Limits{PerIP: phone.DefaultLimits.PerIP},
			nth("ip-user-"), nth("+1201555015"), fixed("198.51.100.1"), 0, 10, "ip"},
		{"per-ip-day", phone.Limits{PerIP: phone.DefaultLimits.PerIP, PerIPDay: phone.DefaultLimits.PerIPDay},
			nth("ip-user-"), nth("+1201555017"), fixed("198.51.100.1"), 8 * time.Minute, 50, "ip-day"},
		{"per-dial-code-day", phone.Limits{DialCodeDay: 100, DialCodeDayFor: map[string]int{"44": 2}},
			nth("cc-user-"), nth("+44740012345"), nth("198.51.100."), 0, 2, "dial-code"},
		{"resend-cool-down", phone.Limits{CoolDown: time.Minute},
			fixed("u1"), fixed("+12015550130"), fixed("198.51.100.1"), 59 * time.Second, 1, "cooldown"},
	}
	// One database per backend; each case has its own keyring (so its own
	// number keys) and prefixes its users and IPs.
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				f := setup(t, g, tc.limits)
				m := f.m[method.Mobile]
				enrolls := map[string]method.Enrollment{}
				for i := range tc.allowed + 1 {
					u, num := tc.name+tc.user(i), tc.number(i)
					if _, ok := enrolls[u+num]; !ok {
						enrolls[u+num] = f.register(t, t.Context(), method.Mobile, ref(u), method.Input{"phone": num})
					}
				}
				sent := 0
				var err error
				var u string
				for i := range tc.allowed + 1 {
					var num string
					u, num = tc.name+tc.user(i), tc.number(i)
					e := enrolls[u+num]
					ctx := withIP(t.Context(), tc.name+tc.ip(i))
					before := f.srv.Requests()
					_, err = m.Challenge(ctx, "flow-"+u, ref(u), e)
					if err != nil {
						if f.srv.Requests() != before {
							t.Fatal("a refused send reached the gateway")
						}
						break
					}
					sent++
					f.clk.Advance(tc.between)
				}
				var le *phone.LimitError
				if sent != tc.allowed || !errors.As(err, &le) || le.Limit != tc.reason || !errors.Is(err, method.ErrRateLimited) {
					t.Fatalf("sent %d then %v; want %d sends then the %s limit", sent, err, tc.allowed, tc.reason)
				}
				evs := events(t, f.audit, phone.EventSend, u)
				if len(evs) == 0 || evs[0].Outcome != audit.Blocked || !strings.Contains(evs[0].Detail, `"reason":"`+tc.reason+`"`) {
					t.Fatalf("newest audit event of %s: %+v", u, evs[:min(len(evs), 1)])
				}
			})
		}
	})
}

func fixed(v string) func(int) string { return func(int) string { return v } }
func nth(prefix string) func(int) string {
	return func(i int) string { return prefix + string(rune('0'+i%10)) }
}
