package provider

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/session"
	"github.com/latchkeyid/latchkey/provider/web"
)

// A request that asks for acr_values "2" (or its alias "mfa") gets a code
// only from a sign-in with two kinds of proof: after the password the
// browser is sent to the plugin's second-proof page, which proves one more
// registered method and comes back through AddProof. No path completes such
// a request from a single-factor session (completeRequest checks it too).

// wantsTwoProofs reports whether req asked for a two-proof sign-in.
func wantsTwoProofs(req AuthRequest) bool {
	return slices.ContainsFunc(req.GetACRValues(), func(v string) bool {
		return v == opstore.ACRMultiFactor || v == "mfa"
	})
}

// owesProof reports whether session s may not answer req until it has
// a second proof.
func owesProof(req AuthRequest, s *session.Session) bool {
	return req != nil && wantsTwoProofs(req) && !opstore.MultiFactor(s.AMR)
}

// errSameProof answers a second proof of the kind the session already had.
var errSameProof = &web.PageError{Status: http.StatusBadRequest, Title: "errors.not_continuable.title",
	Message: "errors.same_proof.message"}

// errOneProof: the request asks for two proofs and the session has one.
var errOneProof = errors.New("provider: the request needs a sign-in with two proofs")

// secondProofURL is the plugin page that asks for one more method for req.
func (p *Provider) secondProofURL(req AuthRequest) string {
	return p.secondProof + "?" + url.Values{"authRequestID": {req.GetID()}}.Encode()
}

// AddProof records that the browser's signed-in user just proved one more
// method (amr: that method's values, never "pwd"): the session is replaced
// by one with both proofs (a new id, since it now holds more power), and
// the pending request of this browser is completed. It returns the OP
// callback URL, "" when there is no request to continue here.
func (p *Provider) AddProof(c echo.Context, amr []string, authRequestID string) (string, error) {
	ctx := c.Request().Context()
	if len(amr) == 0 || slices.Contains(amr, "pwd") {
		return "", errors.New("provider: add proof: amr must name the method, never pwd")
	}
	cur, ok := p.current(c)
	if !ok {
		return "", errNotContinuable
	}
	if _, active := p.activeUser(ctx, cur.UserID); !active {
		return "", errNotContinuable
	}
	both := slices.Clone(cur.AMR)
	for _, m := range amr {
		if !slices.Contains(both, m) {
			both = append(both, m)
		}
	}
	if !opstore.MultiFactor(both) {
		// The same kind again (a recovery by the app, then the app): the
		// session stays as it was and the person is told to choose another.
		return "", errSameProof
	}
	s, err := p.startSession(c, nil, cur.UserID, both)
	if err != nil {
		return "", err
	}
	p.record(c, audit.SignIn, s.UserID, audit.OK, map[string]any{"amr": s.AMR, "session": s.ID, "via": "second_proof"})
	p.metrics.signin("second_proof", "ok")
	if authRequestID == "" {
		return "", nil
	}
	req, err := p.loadRequest(ctx, authRequestID)
	if err != nil {
		return "", errNotContinuable
	}
	b, err := p.binding(c, req, "second_proof", func() string { return s.UserID })
	if err != nil {
		return "", err
	}
	// A request held for a registration is continued by ContinueURL,
	// which releases it before it sends the browser here.
	if req.Done() || b.HoldSession != "" {
		return "", errNotContinuable
	}
	if hint := req.GetHintSubject(); hint != "" && hint != s.UserID {
		return "", errNotContinuable
	}
	to, err := p.completeRequest(ctx, req, s)
	if err != nil {
		return "", errNotContinuable
	}
	return to, nil
}

// redirectForProof sends the browser to the second-proof page when req
// needs one s lacks; false when nothing is owed.
func (p *Provider) redirectForProof(c echo.Context, req AuthRequest, s *session.Session) (bool, error) {
	if !owesProof(req, s) {
		return false, nil
	}
	return true, c.Redirect(http.StatusSeeOther, p.secondProofURL(req))
}
