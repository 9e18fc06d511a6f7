package phone_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// The limits of checklist 52 and 53 are the checklist's numbers.
func TestDefaultLimitsAreTheChecklist(t *testing.T) {
	l := phone.DefaultLimits
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"per-number", [2]any{l.PerNumber.Limit, l.PerNumber.Window}, [2]any{3, 10 * time.Minute}},
		{"per-number-day", [2]any{l.PerNumberDay.Limit, l.PerNumberDay.Window}, [2]any{10, 24 * time.Hour}},
		{"per-user", [2]any{l.PerUser.Limit, l.PerUser.Window}, [2]any{5, time.Hour}},
		{"per-ip", [2]any{l.PerIP.Limit, l.PerIP.Window}, [2]any{10, time.Hour}},
		{"resend-cool-down", l.CoolDown, 60 * time.Second},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	if l.DialCodeDay <= 0 || l.GlobalHour <= 0 || l.BreakerOpen <= 0 {
		t.Errorf("dial-code cap %d, global budget %d, breaker %v: each must be on by default", l.DialCodeDay, l.GlobalHour, l.BreakerOpen)
	}
}

// Checklist 52 ("same limits on phone registration in security info"):
// every toll-fraud limit that guards a send at recovery also guards the
// code that proves a new number, trips at the same count, never reaches
// the gateway and is audited.
func TestRegistrationMeetsEveryLimit(t *testing.T) {
	tests := []struct {
		name             string
		limits           phone.Limits
		user, number, ip func(i int) string
		between          time.Duration
		allowed          int
		reason           string
	}{
		{"per-number-10-min", phone.Limits{PerNumber: phone.DefaultLimits.PerNumber},
			nth("n-user-"), fixed("+12015550160"), nth("198.51.100."), 0, 3, "number"},
		{"per-number-day", phone.Limits{PerNumber: phone.DefaultLimits.PerNumber, PerNumberDay: phone.DefaultLimits.PerNumberDay},
			nth("d-user-"), fixed("+12015550161"), nth("198.51.100."), 4 * time.Minute, 10, "number-day"},
		{"per-user-hour", phone.Limits{PerUser: phone.DefaultLimits.PerUser},
			fixed("u1"), nth("+1201555016"), nth("198.51.100."), 0, 5, "user"},
		{"per-ip-hour", phone.Limits{PerIP: phone.DefaultLimits.PerIP},
			nth("ip-user-"), nth("+1201555017"), fixed("198.51.100.1"), 0, 10, "ip"},
		{"per-dial-code-day", phone.Limits{DialCodeDay: 100, DialCodeDayFor: map[string]int{"44": 2}},
			nth("cc-user-"), nth("+44740012346"), nth("198.51.100."), 0, 2, "dial-code"},
		{"cool-down-60-s", phone.Limits{CoolDown: phone.DefaultLimits.CoolDown},
			fixed("u1"), fixed("+12015550162"), fixed("198.51.100.1"), 59 * time.Second, 1, "cooldown"},
	}
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				f := setup(t, g, tc.limits)
				var err error
				var u string
				sent := 0
				for i := range tc.allowed + 1 {
					u = tc.name + tc.user(i)
					ctx := withIP(t.Context(), tc.name+tc.ip(i))
					before := f.srv.Requests()
					_, err = f.m[method.Mobile].Begin(ctx, tc.name+nth("flow-")(i), ref(u), method.Input{"phone": tc.number(i)})
					if err != nil {
						if f.srv.Requests() != before {
							t.Fatal("a refused registration reached the gateway")
						}
						break
					}
					sent++
					f.clk.Advance(tc.between)
				}
				var le *phone.LimitError
				if sent != tc.allowed || !errors.As(err, &le) || le.Limit != tc.reason || !errors.Is(err, method.ErrRateLimited) {
					t.Fatalf("registered %d then %v; want %d then the %s limit", sent, err, tc.allowed, tc.reason)
				}
				evs := events(t, f.audit, phone.EventSend, u)
				if len(evs) == 0 || evs[0].Outcome != audit.Blocked || !strings.Contains(evs[0].Detail, `"reason":"`+tc.reason+`"`) ||
					!strings.Contains(evs[0].Detail, `"purpose":"register"`) {
					t.Fatalf("newest audit event of %s: %+v", u, evs[:min(len(evs), 1)])
				}
			})
		}
		t.Run("circuit-breaker", func(t *testing.T) {
			f := setup(t, g, phone.Limits{GlobalHour: 2, BreakerOpen: time.Hour})
			ctx := withIP(t.Context(), "198.51.100.7")
			for i := range 2 {
				if _, err := f.m[method.Mobile].Begin(ctx, nth("bf")(i), ref(nth("bu")(i)), method.Input{"phone": nth("+1201555019")(i)}); err != nil {
					t.Fatalf("registration %d: %v", i, err)
				}
			}
			before := f.srv.Requests()
			_, err := f.m[method.Mobile].Begin(ctx, "bf2", ref("bu2"), method.Input{"phone": "+12015550192"})
			if !errors.Is(err, phone.ErrBreakerOpen) || f.srv.Requests() != before {
				t.Fatalf("registration over the budget: %v (gateway called: %v)", err, f.srv.Requests() != before)
			}
		})
	})
}
