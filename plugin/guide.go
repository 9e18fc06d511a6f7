package plugin

import (
	"context"
	"crypto/rand"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// What every recovery page tells a person beside its form: where they are
// ("Step 2 of 4"), the way back and out, who helps when they are stuck,
// and what the policy still asks for and why. Before a proof, everything
// here is computed from what the page shows anyway (the policy and the
// listed methods), never from the account behind the name, so a decoy's
// guidance is a real account's.

// tr translates the message id for the request's language ("" stays "").
func tr(c echo.Context, id string, kv ...any) string {
	if id == "" {
		return ""
	}
	return i18n.Choose(c.Request()).T(id, kv...)
}

// stepView is "Step N of M".
type stepView struct{ N, M int }

// recoverySteps is the total of a recovery's steps: the name, the reason,
// one step per proof and, for a reset, the new password.
func recoverySteps(proofs int, intent flow.Intent) int {
	m := 2 + proofs
	if intent != flow.Unlock {
		m++
	}
	return m
}

// proofsPlanned is how many proofs a flow's pages count with: the policy's
// number until a proof was made; after one, the proofs so far and one
// more (the method list is shown again only while the policy is not yet
// satisfied).
func proofsPlanned(pol policy.Policy, f *flow.Flow) int {
	if n := len(f.Proofs); n > 0 {
		return n + 1
	}
	return pol.Required
}

// proofStep is the step of the method list and the verify page.
func proofStep(pol policy.Policy, f *flow.Flow) stepView {
	return stepView{N: 3 + len(f.Proofs), M: recoverySteps(proofsPlanned(pol, f), f.Intent)}
}

// helpView is the policy's helpdesk setting as a page shows it: a link,
// or for a mailto URL the address too; both empty shows the default words.
type helpView struct{ URL, Mail string }

func helpOf(raw string) helpView {
	u, err := url.Parse(raw)
	if raw == "" || err != nil {
		return helpView{}
	}
	if u.Scheme == "mailto" {
		return helpView{URL: raw, Mail: u.Opaque}
	}
	return helpView{URL: raw}
}

// needView says what the method list still asks for and why.
type needView struct {
	// Before a proof, from the policy and the listed methods:
	Two       bool // the policy asks for two proofs
	App       bool // an authenticator app is listed: it alone is enough, any other method needs a second
	Questions bool // security questions are listed: they count only beside another method
	Short     bool // the listed methods can never be enough: the person needs the helpdesk
	// After a proof, why one more is needed: "questions", "admin",
	// "policy", "app" or "channel".
	More string
}

// needBefore is the guidance of a method list before any proof.
func (p *Plugin) needBefore(pol policy.Policy, opts []method.Enrollment) needView {
	n := needView{Two: pol.Required >= 2}
	all := make([]policy.Proof, 0, len(opts))
	for _, e := range opts {
		ch := method.ChannelApp
		if m := p.method(e.Method); m != nil {
			ch = m.Channel(e)
		}
		switch ch {
		case method.ChannelApp:
			n.App = true
		case method.ChannelKnowledge:
			n.Questions = true
		}
		all = append(all, policy.Proof{Method: string(e.Method), Channel: string(ch)})
	}
	n.App = n.App && !n.Two
	n.Short = !pol.Satisfied(false, n.App, all)
	return n
}

// needAfter says why a real flow with proofs needs one more (decoys never
// get a proof, so this may read the account).
func (p *recovery) needAfter(ctx context.Context, pol policy.Policy, u *user.User, f *flow.Flow) (needView, error) {
	possession, app := false, false
	for _, pr := range f.Proofs {
		switch method.Channel(pr.Channel) {
		case method.ChannelKnowledge:
		case method.ChannelApp:
			possession, app = true, true
		default:
			possession = true
		}
	}
	hasApp, err := p.hasApp(ctx, pol, u)
	if err != nil {
		return needView{}, err
	}
	switch {
	case !possession:
		return needView{More: "questions"}, nil
	case u.Admin && pol.Required < 2:
		return needView{More: "admin"}, nil
	case pol.Required >= 2:
		return needView{More: "policy"}, nil
	case hasApp && !app:
		return needView{More: "app"}, nil
	}
	return needView{More: "channel"}, nil
}

// cancelURL is where Cancel goes: the sign-in page, with the pending
// application's request when there is one.
func (p *Plugin) cancelURL(authReq string) string { return p.d.SignIn.LoginURL(authReq, "") }

// againURL starts a recovery afresh, keeping the pending application.
func (p *Plugin) againURL(authReq string) string {
	if authReq == "" {
		return p.path("/recover")
	}
	return p.path("/recover") + "?authRequestID=" + url.QueryEscape(authReq)
}

// startBackURL is the name page again with the typed name, the reason
// and the pending application kept (a fresh CAPTCHA is drawn as it opens).
func (p *recovery) startBackURL(c echo.Context, f *flow.Flow, login string) string {
	reason := ""
	switch f.Intent {
	case flow.Reset:
		reason = "forgot"
	case flow.Unlock:
		reason = "unlock"
	}
	return p.startURL(startState{Form: rand.Text(), Login: login, AuthReq: f.AuthRequestID, Reason: reason,
		Bind: p.browserBind(c), Exp: p.d.Now().Add(startTTL).UnixMilli()})
}
