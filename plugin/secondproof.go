package plugin

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method"
)

// SecondProver is an optional interface of SignIn: the provider's half of a
// sign-in that needs two proofs (an application asked acr_values=2). After
// the password the provider sends the browser to /security-info/second-proof;
// once one more registered method is proven here, AddProof upgrades the
// browser's session (amr: the method's values) and completes the request,
// returning its callback URL.
type SecondProver interface {
	AddProof(c echo.Context, amr []string, authRequestID string) (redirect string, err error)
}

// fieldRequest carries, through the step-up's forms, the sign-in request
// that asked for a second proof.
const fieldRequest = "authRequestID"

// secondProofPage (GET /security-info/second-proof?authRequestID=R) asks
// the signed-in user for one more method, or says plainly that they have
// none to give and where to add one: never a silent single-factor sign-in.
func (p *securityInfo) secondProofPage(c echo.Context) error {
	if _, ok := p.d.SignIn.(SecondProver); !ok {
		return flowErr(flow.ErrNotFound)
	}
	req := cleanAuthRequestID(c.QueryParam(fieldRequest))
	if req == "" {
		return flowErr(flow.ErrNotFound)
	}
	a, err := p.guard(c)
	if err != nil {
		return done(err)
	}
	return p.stepUpPage(c, a, "")
}

// secondRequest is the request a step-up form proves a second factor for,
// "" for the Security info step-up.
func secondRequest(c echo.Context) string {
	if c.Request().Method == http.MethodGet {
		return cleanAuthRequestID(c.QueryParam(fieldRequest))
	}
	return cleanAuthRequestID(c.Request().PostFormValue(fieldRequest))
}

// secondProven finishes a second-proof flow: the provider upgrades the
// session and continues the request.
func (p *securityInfo) secondProven(c echo.Context, f *flow.Flow, e method.Enrollment) error {
	sp, ok := p.d.SignIn.(SecondProver)
	if !ok {
		return flowErr(flow.ErrNotFound)
	}
	amr := p.amr(f.Proofs)
	if len(amr) == 0 {
		amr = p.amr([]flow.Proof{{Method: string(e.Method)}})
	}
	to, err := sp.AddProof(c, amr, f.AuthRequestID)
	if err != nil {
		return err
	}
	if to == "" {
		to = p.path("/security-info")
	}
	return see(c, to)
}
