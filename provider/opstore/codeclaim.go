package opstore

import (
	"context"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// mayClaim reports whether the token request in ctx may claim the code:
// the library checks the client and the PKCE verifier only after
// AuthRequestByCode has made the code single-use, so a request that would
// fail those checks (another client, a wrong or missing verifier) is
// refused here and leaves the code to its rightful client.
func (s *Storage) mayClaim(ctx context.Context, cr authCodeRow, row authRequestRow) bool {
	client, verifier, form := tokenRequest(ctx)
	if client != "" && client != cr.ClientID {
		return false
	}
	if form && row.CodeChallenge != "" {
		c := &oidc.CodeChallenge{Challenge: row.CodeChallenge, Method: oidc.CodeChallengeMethod(row.CodeChallengeMethod)}
		if !oidc.VerifyCodeChallenge(c, verifier) {
			return false
		}
	}
	return true
}
