package main

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/admin"
	"github.com/latchkeyid/latchkey/plugin/compose"
	"github.com/latchkeyid/latchkey/plugin/console"
	"github.com/latchkeyid/latchkey/plugin/method/questions"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	reports "github.com/latchkeyid/latchkey/plugin/report"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/plugin/useradmin"
	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/session"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/ui"
)

// mountAdminAPI mounts the admin API (/admin/api/v1) on the issuer's Echo.
func (s *server) mountAdminAPI(e *echo.Echo, p *provider.Provider, store provider.Storage, g *gorm.DB,
	k *secret.Keyring, users *user.Store, auditLog *audit.Log) error {
	st, ok := store.(*opstore.Storage)
	if !ok {
		return errors.New("admin api: the OP storage is not opstore")
	}
	iss := p.Issuer()
	api, err := admin.New(admin.Deps{
		Tokens: adminTokens{p}, Users: users, Apps: adminApps{st: st, a: s.a}, Audit: auditLog,
		Limiter: ratelimit.New(g), DB: g, Keys: k,
		UserAdmin: userAdmin(g, users, s.accounts, s.a.policy(), s.sspr, nil),
		Endpoints: admin.Endpoints{
			Issuer: iss, Discovery: iss + "/.well-known/openid-configuration", Authorization: iss + "/authorize",
			Token: iss + "/oauth/token", UserInfo: iss + "/userinfo", EndSession: iss + "/end_session", JWKS: iss + "/keys",
		},
		Ops: s.a.adminOps(g, k, time.Now),
	})
	if err != nil {
		return err
	}
	api.Mount(e)
	s.adminAPI = api
	go func() { // Idempotency-Key records past their window
		t := time.NewTicker(10 * time.Minute)
		defer t.Stop()
		for {
			select {
			case <-s.stopping.Done():
				return
			case <-t.C:
				if _, err := api.CleanupIdempotency(s.stopping, 500); err != nil && s.stopping.Err() == nil {
					s.log.Warn("admin api: idempotency cleanup", "err", err)
				}
			}
		}
	}()
	return nil
}

// adminOps are the admin API's policy, audit log and report collaborators:
// the stores the commands use.
func (a *app) adminOps(g *gorm.DB, k *secret.Keyring, now func() time.Time) admin.OpsDeps {
	return admin.OpsDeps{
		Policies: a.policyStore(g), Questions: questions.New(g, nil, k, nil), Available: a.availableMethods(),
		Reports: reports.New(g, reports.WithClock(now)), AuditRetentionDays: a.cfg.AuditRetentionDays,
	}
}

// userAdmin is what the user operations of the API and the commands work
// with: the account service with every revoker, and the plugin's mail
// queue and templates when sspr can send email (mailer replaces the
// queue: the commands only queue, the server delivers).
func userAdmin(g *gorm.DB, users *user.Store, accounts *account.Service, pol password.Policy, sspr *compose.SSPR,
	mailer useradmin.Enqueuer) *admin.UserAdmin {
	ops := &useradmin.Ops{DB: g, Users: users, Accounts: accounts, Policy: pol, Issuer: sspr.Mail().Issuer(),
		Mail: sspr.Mail(), Queue: mailer}
	if mailer == nil && sspr.Queue.Available(sender.Email) {
		ops.Queue = sspr.Queue
	}
	if ops.Queue == nil {
		ops.Mail = nil
	}
	return &admin.UserAdmin{Users: users, Accounts: accounts, Ops: ops, Methods: sspr.Enrollments,
		Sessions: adminSessions{session.NewStore(g)}, Notifier: sspr.Plugin}
}

// adminSessions shows the provider's sessions to the admin API.
type adminSessions struct{ *session.Store }

func (s adminSessions) ListUser(ctx context.Context, userID string) ([]admin.SessionInfo, error) {
	list, err := s.Store.ListUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]admin.SessionInfo, len(list))
	for i, x := range list {
		out[i] = admin.SessionInfo{ID: x.ID, AuthTime: x.AuthTime, CreatedAt: x.CreatedAt, LastSeenAt: x.LastSeenAt,
			ExpiresAt: x.ExpiresAt, AMR: x.AMR}
	}
	return out, nil
}

// adminTokens verifies the API's bearer tokens through the provider.
type adminTokens struct{ p *provider.Provider }

func (t adminTokens) Verify(ctx context.Context, raw string) (*admin.Token, error) {
	tok, err := t.p.VerifyAccessToken(ctx, raw)
	if errors.Is(err, provider.ErrInvalidToken) {
		return nil, admin.ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	return &admin.Token{ClientID: tok.ClientID, Subject: tok.Subject, Scopes: tok.Scopes, User: tok.User,
		AuthTime: tok.AuthTime, TwoProofs: opstore.MultiFactor(tok.AMR)}, nil
}

// adminApps is the admin API's app store: the OP storage's clients, with
// its validation, and the logo rule of `latchkey client create`.
type adminApps struct {
	st *opstore.Storage
	a  *app
}

func appOf(c *opstore.Client) admin.App {
	return admin.App{AppSettings: admin.AppSettings{
		ID: c.GetID(), Name: c.GetName(), LogoURI: c.LogoURI(), RedirectURIs: nonNilList(c.RedirectURIs()),
		PostLogoutRedirectURIs: nonNilList(c.PostLogoutRedirectURIs()), GrantTypes: nonNilList(c.GrantTypeNames()),
		Public: c.IsPublic(), ThirdParty: c.IsThirdParty(), AdminAPI: c.AdminAPI(), IDTokenAlg: c.IDTokenAlg(),
		AccessTokenType: c.AccessTokenFormat(), AccessTokenTTL: secs(c.AccessTokenTTL()),
		IDTokenTTL: secs(c.IDTokenLifetime()), RefreshIdleTTL: secs(c.RefreshIdleTTL()), RefreshMaxTTL: secs(c.RefreshMaxTTL()),
	}, CreatedAt: c.CreatedAt().UTC()}
}

func nonNilList(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func secs(d time.Duration) int64 { return int64(d / time.Second) }

// dur turns API seconds into a duration, saturating instead of wrapping
// around (a huge value must fail the range check, not land inside it).
func dur(s int64) time.Duration {
	const maxSecs = int64(math.MaxInt64 / int64(time.Second))
	switch {
	case s > maxSecs:
		return time.Duration(math.MaxInt64)
	case s < -maxSecs:
		return time.Duration(math.MinInt64)
	}
	return time.Duration(s) * time.Second
}

// appErr maps the storage's errors to the API's.
func appErr(err error) error {
	var inv *opstore.InvalidError
	switch {
	case errors.As(err, &inv):
		out := &admin.InvalidError{}
		for _, p := range inv.Problems {
			out.Problems = append(out.Problems, admin.FieldError{Field: p.Field, Message: p.Message})
		}
		return out
	case errors.Is(err, opstore.ErrNotFound):
		return admin.ErrNotFound
	case errors.Is(err, opstore.ErrExists):
		return admin.ErrExists
	}
	return err
}

// logoProblem is the rule of --logo-uri: on the issuer's origin or a
// data: URL, so the pages' CSP shows it.
func (s adminApps) logoProblem(v string) error {
	if msg := ui.LogoProblem(v, s.a.cfg.Issuer); msg != "" {
		return &admin.InvalidError{Problems: []admin.FieldError{{Field: "logo_uri", Message: msg}}}
	}
	return nil
}

func (s adminApps) ListApps(ctx context.Context, after string, limit int) ([]admin.App, error) {
	list, err := s.st.ListClientsAfter(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]admin.App, len(list))
	for i, c := range list {
		out[i] = appOf(c)
	}
	return out, nil
}

func (s adminApps) App(ctx context.Context, id string) (*admin.App, error) {
	if len(id) > 64 {
		return nil, admin.ErrNotFound
	}
	c, err := s.st.ClientByID(ctx, id)
	if err != nil {
		return nil, appErr(err)
	}
	app := appOf(c)
	return &app, nil
}

func (s adminApps) CreateApp(ctx context.Context, in admin.App) (*admin.App, string, error) {
	if err := s.logoProblem(in.LogoURI); err != nil {
		return nil, "", err
	}
	nc := opstore.NewClient{
		ID: in.ID, Name: in.Name, LogoURI: in.LogoURI, RedirectURIs: in.RedirectURIs,
		PostLogoutRedirectURIs: in.PostLogoutRedirectURIs, GrantTypes: in.GrantTypes, Public: in.Public,
		ThirdParty: in.ThirdParty, AdminAPI: in.AdminAPI, IDTokenAlg: in.IDTokenAlg, AccessTokenType: in.AccessTokenType,
	}
	// Lifetimes not given are the configured ones, as for `client create`.
	s.a.clientTTLs(&nc)
	for _, o := range []struct {
		given int64
		dst   *time.Duration
	}{{in.AccessTokenTTL, &nc.AccessTokenTTL}, {in.IDTokenTTL, &nc.IDTokenTTL},
		{in.RefreshIdleTTL, &nc.RefreshIdleTTL}, {in.RefreshMaxTTL, &nc.RefreshMaxTTL}} {
		if o.given != 0 {
			*o.dst = dur(o.given)
		}
	}
	if in.RefreshMaxTTL != 0 && in.RefreshIdleTTL == 0 {
		nc.RefreshIdleTTL = min(nc.RefreshIdleTTL, nc.RefreshMaxTTL)
	}
	c, secret, err := s.st.CreateClient(ctx, nc)
	if err != nil {
		return nil, "", appErr(err)
	}
	app := appOf(c)
	return &app, secret, nil
}

// serverOwned refuses changes to the admin console's own client: the
// server registers it at every start from its configuration, and changing
// or deleting it would only lock the console until the next start.
func serverOwned(id string) error {
	if id != console.ClientID {
		return nil
	}
	return &admin.InvalidError{Problems: []admin.FieldError{{Field: "id",
		Message: "the admin console's own client is managed by the server and cannot be changed here"}}}
}

func (s adminApps) UpdateApp(ctx context.Context, id string, ch admin.AppChange) (*admin.App, error) {
	if len(id) > 64 {
		return nil, admin.ErrNotFound
	}
	if err := serverOwned(id); err != nil {
		return nil, err
	}
	if ch.LogoURI != nil {
		if err := s.logoProblem(*ch.LogoURI); err != nil {
			return nil, err
		}
	}
	d := func(v *int64) *time.Duration {
		if v == nil {
			return nil
		}
		x := dur(*v)
		return &x
	}
	c, err := s.st.UpdateClient(ctx, id, opstore.ClientChange{
		Name: ch.Name, LogoURI: ch.LogoURI, RedirectURIs: ch.RedirectURIs, PostLogoutRedirectURIs: ch.PostLogoutRedirectURIs,
		GrantTypes: ch.GrantTypes, ThirdParty: ch.ThirdParty, AdminAPI: ch.AdminAPI, IDTokenAlg: ch.IDTokenAlg,
		AccessTokenType: ch.AccessTokenType, AccessTokenTTL: d(ch.AccessTokenTTL), IDTokenTTL: d(ch.IDTokenTTL),
		RefreshIdleTTL: d(ch.RefreshIdleTTL), RefreshMaxTTL: d(ch.RefreshMaxTTL),
	})
	if err != nil {
		return nil, appErr(err)
	}
	app := appOf(c)
	return &app, nil
}

func (s adminApps) DeleteApp(ctx context.Context, id string) error {
	if len(id) > 64 {
		return admin.ErrNotFound
	}
	if err := serverOwned(id); err != nil {
		return err
	}
	return appErr(s.st.DeleteClient(ctx, id))
}

func (s adminApps) RegenerateSecret(ctx context.Context, id string, grace time.Duration) (string, error) {
	if len(id) > 64 {
		return "", admin.ErrNotFound
	}
	if err := serverOwned(id); err != nil {
		return "", err
	}
	v, err := s.st.RegenerateSecret(ctx, id, grace)
	if err != nil {
		return "", appErr(err)
	}
	return v, nil
}

var _ admin.Apps = adminApps{}
