package plugintest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/authenticator"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/plugin/sender/smtp/smtptest"
)

// Ref is the test user as the methods see it.
func (x *Env) Ref() method.Ref {
	u := x.Server.User
	return method.Ref{ID: u.ID, Username: u.Username, Email: u.Email}
}

// SetPolicy applies key=value settings to the policy.
func (x *Env) SetPolicy(t testing.TB, settings ...string) {
	t.Helper()
	p, err := x.Policy.Get(t.Context())
	if err == nil {
		p, err = policy.Apply(p, settings)
	}
	if err == nil {
		err = x.Policy.Set(t.Context(), p)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// SetMethods enables methods in the policy (and only those).
func (x *Env) SetMethods(t testing.TB, methods ...string) {
	t.Helper()
	pol, err := x.Policy.Get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	pol.Methods = methods
	if err := x.Policy.Set(t.Context(), pol); err != nil {
		t.Fatal(err)
	}
}

// add stores a finished registration for the test user.
func (x *Env) add(t testing.TB, what string, en method.Enrollment, res method.Result, err error) method.Enrollment {
	t.Helper()
	if err != nil || !res.OK {
		t.Fatalf("enroll %s: %v %+v", what, err, res)
	}
	if err := x.Store.Add(t.Context(), &en, 0); err != nil {
		t.Fatal(err)
	}
	return en
}

// EnrollPhone registers a phone of kind for the test user from in (the
// form's fields), proven by the code the gateway received at e164, and
// moves past the cool-down of that code.
func (x *Env) EnrollPhone(t testing.TB, kind method.Name, in method.Input, e164 string) method.Enrollment {
	t.Helper()
	flow := "enroll-" + string(kind)
	p, err := x.Phones[kind].Begin(t.Context(), flow, x.Ref(), in)
	if err != nil {
		t.Fatal(err)
	}
	en, res, err := x.Phones[kind].Finish(t.Context(), flow, x.Ref(), p, method.Input{"code": x.Gateway.Code(e164)})
	en = x.add(t, string(kind), en, res, err)
	x.Server.Clock.Advance(2 * time.Minute)
	return en
}

// EnrollTOTP registers an authenticator app and returns its secret; the
// clock moves past the step of the code it used.
func (x *Env) EnrollTOTP(t testing.TB) string { t.Helper(); return x.EnrollTOTPFor(t, x.Ref()) }

// EnrollTOTPFor is EnrollTOTP for another user.
func (x *Env) EnrollTOTPFor(t testing.TB, ref method.Ref) string {
	t.Helper()
	p, err := x.TOTP.Begin(t.Context(), "enroll-totp", ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.Code(p.Prompt.Secret, x.Server.Clock.Now())
	en, res, err := x.TOTP.Finish(t.Context(), "enroll-totp", ref, p, method.Input{"code": code})
	x.add(t, "totp", en, res, err)
	x.Server.Clock.Advance(30 * time.Second)
	return p.Prompt.Secret
}

// EnrollPush pairs a test authenticator device named name.
func (x *Env) EnrollPush(t testing.TB, name string) (*authenticator.Device, method.Enrollment) {
	t.Helper()
	p, err := x.Push.Begin(t.Context(), "enroll-push", x.Ref(), nil)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := x.Client.Enroll(t.Context(), p.Prompt.Link, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	en, res, err := x.Push.Finish(t.Context(), "enroll-push", x.Ref(), p, method.Input{push.FieldCode: dev.PairingCode})
	return dev, x.add(t, "push", en, res, err)
}

// EnrollEmail registers addr, proven by the code mailed to it.
func (x *Env) EnrollEmail(t testing.TB, addr string) method.Enrollment {
	t.Helper()
	p, err := x.Email.Begin(t.Context(), "enroll-email", x.Ref(), method.Input{"address": addr})
	if err != nil {
		t.Fatal(err)
	}
	en, res, err := x.Email.Finish(t.Context(), "enroll-email", x.Ref(), p, method.Input{"code": x.MailCode(t, addr)})
	return x.add(t, "email", en, res, err)
}

// Drain delivers the queued mail to the outbox (Options.SMTP off).
func (x *Env) Drain(t testing.TB) {
	t.Helper()
	if _, err := x.Queue.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// MailCode returns the code last mailed to addr and forgets the mail.
func (x *Env) MailCode(t testing.TB, addr string) string {
	t.Helper()
	if x.SMTP == nil {
		// A message is due at its queue time; on a loaded machine the drain
		// may run a moment before it is, so look again (the dispatcher in
		// production simply sends it on its next poll). The bound is as
		// generous as the SMTP wait below: a busy laptop must not fail it.
		var c string
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			x.Drain(t)
			if c = x.Outbox.Code(addr); c != "" || time.Now().After(deadline) {
				break
			}
		}
		if c == "" {
			t.Fatalf("no code mailed to %s", addr)
		}
		x.Outbox.Clear()
		return c
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := x.SMTP.Code(ctx, addr)
	if err != nil {
		t.Fatalf("no code mailed to %s: %v", addr, err)
	}
	x.SMTP.Clear()
	return c
}

// WaitMail waits for a mail to addr whose text contains want (through
// SMTP) and returns the text.
func (x *Env) WaitMail(t testing.TB, addr, want string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	m, err := x.SMTP.WaitMatch(ctx, addr, func(m smtptest.Message) bool { return strings.Contains(m.Text, want) })
	if err != nil {
		t.Fatalf("no mail to %s containing %q: %v", addr, want, err)
	}
	return m.Text
}

// NewPassword is the new password the tests' recoveries and password
// changes set: strong enough for every password policy they use.
const NewPassword = "lantern orchard quietly 42"

// AnswerFor is the answer the tests register for a security question:
// distinct per question, so a mixed-up answer is refused.
func AnswerFor(text string) string {
	h := sha256.Sum256([]byte(text))
	return "Blue Lagoon " + hex.EncodeToString(h[:3])
}
