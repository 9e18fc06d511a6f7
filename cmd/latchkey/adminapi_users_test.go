package main

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/admin"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/plugin/sender/smtp/smtptest"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
	"github.com/latchkeyid/latchkey/provider/user"
)

// The admin API's user operations against the real provider, plugin and
// databases; every response is checked against the OpenAPI document.

const usersPath = admin.Prefix + "/users"

func (e *apiEnv) adminClient() string { return e.clientToken(opsClient, opsSecret, admin.Scope) }

// getUser reads one user through the API.
func (e *apiEnv) getUser(tok, id string) admin.User {
	e.t.Helper()
	r := e.call(http.MethodGet, usersPath+"/"+id, tok, nil)
	if r.status != http.StatusOK {
		e.t.Fatalf("get user %s: %d %s", id, r.status, r.body)
	}
	var u admin.User
	r.json(e.t, &u)
	return u
}

// userOf reads a user answer (a fresh value: absent fields stay absent).
func userOf(t *testing.T, r reply) admin.User {
	t.Helper()
	var u admin.User
	r.json(t, &u)
	return u
}

func wantStatus(t *testing.T, r reply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if status >= 400 {
		r.problem(t)
	}
}

// TestAdminAPIUsers walks every user operation once, with its audit
// record, its errors and what it changed in the stores.
func TestAdminAPIUsers(t *testing.T) {
	eachAPI(t, func(t *testing.T, e *apiEnv) {
		ctx := t.Context()
		tok := e.adminClient()
		alice := e.s.User

		// Create: every problem at once, then a clean one.
		bad := e.call(http.MethodPost, usersPath, tok, map[string]any{"username": "ali\u200bce", "email": "not-an-address",
			"phone": "12345", "locale": "no such tag!", "link_ttl": 5})
		wantFields(t, bad, "password", "link_ttl", "username", "email", "phone", "locale")
		if n := auditCount(t, e, "admin.user.create", "ok", ""); n != 0 {
			t.Fatalf("a refused create was recorded as done (%d)", n)
		}
		weak := e.call(http.MethodPost, usersPath, tok, map[string]any{"username": "weak", "email": "weak@example.org", "password": "weak"})
		wantFields(t, weak, "password")
		r := e.call(http.MethodPost, usersPath, tok, map[string]any{"username": "carol", "email": "carol@example.org",
			"name": "Carol Example", "given_name": "Carol", "family_name": "Example", "phone": "+14155550100",
			"locale": "fr", "groups": []string{"staff", "Ops"}, "password": "violet kettle orbit lantern", "temporary": true})
		wantStatus(t, r, http.StatusCreated)
		var created admin.UserCreated
		r.json(t, &created)
		c := created.User
		if r.header.Get("Location") != usersPath+"/"+c.ID || c.Username != "carol" || c.GivenName != "Carol" ||
			c.Locale != "fr" || strings.Join(c.Groups, ",") != "ops,staff" || !c.State.MustChangePassword ||
			!c.State.HasPassword || c.State.RecoveryRegistered || created.SetupLink != nil {
			t.Fatalf("created %+v (Location %q)", created, r.header.Get("Location"))
		}
		if strings.Contains(string(r.body), "argon2") || strings.Contains(string(r.body), "password_hash") {
			t.Fatalf("the answer carries the hash: %s", r.body)
		}
		if n := auditCount(t, e, "admin.user.create", "ok", "user="+c.ID); n != 1 {
			t.Fatalf("create audited %d times", n)
		}
		wantStatus(t, e.call(http.MethodPost, usersPath, tok, map[string]any{"username": "CAROL", "email": "x@example.org", "setup_link": true}), http.StatusConflict)
		if u, err := e.s.Users.Authenticate(ctx, "carol", "violet kettle orbit lantern"); err != nil || !u.MustChangePassword {
			t.Fatalf("the initial temporary password: %+v %v", u, err)
		}

		// Unknown ids are 404 on every operation.
		for _, op := range []struct{ method, path string }{
			{http.MethodGet, "/nope"}, {http.MethodPatch, "/nope"}, {http.MethodDelete, "/nope"},
			{http.MethodPost, "/nope/disable"}, {http.MethodPost, "/nope/lock"}, {http.MethodPost, "/nope/password"},
			{http.MethodGet, "/nope/methods"}, {http.MethodDelete, "/nope/methods/x"}, {http.MethodGet, "/nope/sessions"},
			{http.MethodDelete, "/nope/sessions"}, {http.MethodPut, "/nope/admin"}, {http.MethodPost, "/" + strings.Repeat("x", 300) + "/unlock"},
			{http.MethodDelete, "/" + c.ID + "/methods/nope"}, {http.MethodDelete, "/" + c.ID + "/report"},
		} {
			var body any
			if op.method == http.MethodPatch {
				body = map[string]any{"name": "x"}
			}
			if op.path == "/nope/lock" {
				body = map[string]any{"duration": 60}
			}
			if op.path == "/nope/password" {
				body = map[string]any{"method": "temporary_password"}
			}
			wantStatus(t, e.call(op.method, usersPath+op.path, tok, body), http.StatusNotFound)
		}

		// Profile claims and groups: every problem at once, then a change.
		wantFields(t, e.call(http.MethodPatch, usersPath+"/"+c.ID, tok, map[string]any{"email": "nope", "phone": "555", "name": ""}),
			"email", "phone", "name")
		wantFields(t, e.call(http.MethodPatch, usersPath+"/"+c.ID, tok, map[string]any{"password_hash": "x"}), "password_hash")
		wantStatus(t, e.call(http.MethodPatch, usersPath+"/"+c.ID, tok, map[string]any{"email": "ALICE@example.com"}), http.StatusConflict)
		r = e.call(http.MethodPatch, usersPath+"/"+c.ID, tok, map[string]any{"name": "Carol Q. Example", "family_name": "",
			"email": "carol.q@example.org", "locale": "de", "groups": []string{"ops", "finance"}})
		wantStatus(t, r, http.StatusOK)
		up := userOf(t, r)
		if up.Name != "Carol Q. Example" || up.FamilyName != "" || up.GivenName != "Carol" || up.Email != "carol.q@example.org" ||
			up.Locale != "de" || strings.Join(up.Groups, ",") != "finance,ops" || up.Phone != "+14155550100" {
			t.Fatalf("updated %+v", up)
		}
		if n := auditCount(t, e, "admin.user.update", "ok", "user="+c.ID); n != 1 {
			t.Fatalf("update audited %d times", n)
		}

		// Disable and enable; disabling revokes the sessions.
		aliceTok := e.userToken(alice, []string{"pwd"}, time.Minute)
		if u := e.getUser(tok, alice.ID); u.LastSignInAt == nil {
			t.Fatalf("last sign-in unknown after a sign-in: %+v", u)
		}
		r = e.call(http.MethodGet, usersPath+"/"+alice.ID+"/sessions", tok, nil)
		var sessions admin.Page[admin.Session]
		r.json(t, &sessions)
		if len(sessions.Items) != 1 || sessions.Items[0].Methods[0] != "pwd" {
			t.Fatalf("sessions %s", r.body)
		}
		if u := e.call(http.MethodPost, usersPath+"/"+alice.ID+"/disable", tok, nil); u.status != 200 || !strings.Contains(string(u.body), `"disabled":true`) {
			t.Fatalf("disable: %d %s", u.status, u.body)
		}
		if active, _ := e.s.Introspect(t, pt.WebClient, pt.WebSecret, aliceTok); active {
			t.Fatal("a disabled user's access token is still active")
		}
		if e.getUser(tok, alice.ID).State.Disabled != true {
			t.Fatal("not disabled")
		}
		wantStatus(t, e.call(http.MethodPost, usersPath+"/"+alice.ID+"/enable", tok, nil), http.StatusOK)
		if e.getUser(tok, alice.ID).State.Disabled {
			t.Fatal("still disabled")
		}

		// Lock: until a time or for a duration, exactly one of them.
		wantFields(t, e.call(http.MethodPost, usersPath+"/"+c.ID+"/lock", tok, map[string]any{}), "until")
		wantFields(t, e.call(http.MethodPost, usersPath+"/"+c.ID+"/lock", tok, map[string]any{"duration": -5}), "duration")
		wantFields(t, e.call(http.MethodPost, usersPath+"/"+c.ID+"/lock", tok, map[string]any{"until": e.s.Clock.Now().Add(-time.Hour)}), "until")
		wantFields(t, e.call(http.MethodPost, usersPath+"/"+c.ID+"/lock", tok, map[string]any{"duration": int64(1) << 62}), "duration")
		until := e.s.Clock.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
		r = e.call(http.MethodPost, usersPath+"/"+c.ID+"/lock", tok, map[string]any{"until": until})
		wantStatus(t, r, http.StatusOK)
		up = userOf(t, r)
		if up.State.LockedUntil == nil || !up.State.LockedUntil.Equal(until) {
			t.Fatalf("locked until %v, want %v", up.State.LockedUntil, until)
		}
		wantStatus(t, e.call(http.MethodPost, usersPath+"/"+c.ID+"/lock", tok, map[string]any{"duration": 3600}), http.StatusOK)
		r = e.call(http.MethodPost, usersPath+"/"+c.ID+"/unlock", tok, nil)
		wantStatus(t, r, http.StatusOK)
		up = userOf(t, r)
		if up.State.LockedUntil != nil {
			t.Fatalf("still locked: %+v", up.State)
		}
		for typ, n := range map[string]int{"admin.user.disable": 1, "admin.user.enable": 1, "admin.user.lock": 2, "admin.user.unlock": 1} {
			if got := auditCount(t, e, typ, "ok", "user="); got != n {
				t.Errorf("%s audited %d times, want %d", typ, got, n)
			}
		}

		// Methods: kind and masked target, never a secret; removal.
		en := e.x.EnrollEmail(t, "alice.home@example.net")
		r = e.call(http.MethodGet, usersPath+"/"+alice.ID+"/methods", tok, nil)
		var methods admin.Page[admin.Method]
		r.json(t, &methods)
		if len(methods.Items) != 1 || methods.Items[0].Kind != "email" || methods.Items[0].Target != "a•••e@example.net" ||
			strings.Contains(string(r.body), "alice.home") {
			t.Fatalf("methods %s", r.body)
		}
		if u := e.getUser(tok, alice.ID); !u.State.RecoveryRegistered || u.State.Methods != 1 {
			t.Fatalf("state %+v", u.State)
		}
		wantStatus(t, e.call(http.MethodDelete, usersPath+"/"+c.ID+"/methods/"+en.ID, tok, nil), http.StatusNotFound) // another user's
		wantStatus(t, e.call(http.MethodDelete, usersPath+"/"+alice.ID+"/methods/"+en.ID, tok, nil), http.StatusNoContent)
		wantStatus(t, e.call(http.MethodDelete, usersPath+"/"+alice.ID+"/methods/"+en.ID, tok, nil), http.StatusNotFound)
		if n := auditCount(t, e, "admin.method.remove", "ok", "user="+alice.ID); n != 1 {
			t.Fatalf("method removal audited %d times", n)
		}
		e.x.Drain(t)
		if ms := e.x.Outbox.To("alice.home@example.net"); len(ms) == 0 || !strings.Contains(ms[len(ms)-1].Subject, "removed") {
			t.Fatalf("the removed address was not told: %+v", ms)
		}

		// Register again: the methods go, every session ends, the mark shows.
		e.x.EnrollEmail(t, "alice.home@example.net")
		aliceTok = e.userToken(alice, []string{"pwd"}, time.Minute)
		r = e.call(http.MethodPost, usersPath+"/"+alice.ID+"/register-again", tok, nil)
		wantStatus(t, r, http.StatusOK)
		up = userOf(t, r)
		if !up.State.RegisterAgain || up.State.Methods != 0 || up.State.RecoveryRegistered {
			t.Fatalf("after register-again: %+v", up.State)
		}
		if active, _ := e.s.Introspect(t, pt.WebClient, pt.WebSecret, aliceTok); active {
			t.Fatal("register-again left a token active")
		}
		// The next sign-in goes to the registration, not to the app
		// (the policy here does not ask for one).
		rp := e.s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := e.s.NewBrowser(t)
		res := b.SignIn(plugintest.MustPage(t, b.Get(rp.Start().URL), "Sign in"), pt.Username, pt.Password)
		if res.Redirect != nil || res.Page == nil || !strings.HasPrefix(res.Page.URL.Path, "/security-info/register/") {
			t.Fatalf("sign-in after register-again: %s", res)
		}

		// Sign out everywhere.
		aliceTok = e.userToken(alice, []string{"pwd"}, time.Minute)
		wantStatus(t, e.call(http.MethodDelete, usersPath+"/"+alice.ID+"/sessions", tok, nil), http.StatusNoContent)
		r = e.call(http.MethodGet, usersPath+"/"+alice.ID+"/sessions", tok, nil)
		r.json(t, &sessions)
		if active, _ := e.s.Introspect(t, pt.WebClient, pt.WebSecret, aliceTok); active || len(sessions.Items) != 0 {
			t.Fatalf("after sign-out: token active %v, sessions %s", active, r.body)
		}

		// Clear a "This wasn't me" report.
		now := e.s.Clock.Now()
		if err := e.s.DB.Exec("UPDATE sspr_user_state SET reported_at = ? WHERE user_id = ?", now, alice.ID).Error; err != nil {
			t.Fatal(err)
		}
		if u := e.getUser(tok, alice.ID); u.State.ReportedAt == nil {
			t.Fatalf("report not shown: %+v", u.State)
		}
		wantStatus(t, e.call(http.MethodDelete, usersPath+"/"+alice.ID+"/report", tok, nil), http.StatusNoContent)
		wantStatus(t, e.call(http.MethodDelete, usersPath+"/"+alice.ID+"/report", tok, nil), http.StatusNotFound)
		if u := e.getUser(tok, alice.ID); u.State.ReportedAt != nil {
			t.Fatal("report still shown")
		}

		// Delete.
		wantStatus(t, e.call(http.MethodDelete, usersPath+"/"+c.ID, tok, nil), http.StatusNoContent)
		wantStatus(t, e.call(http.MethodGet, usersPath+"/"+c.ID, tok, nil), http.StatusNotFound)
		for typ, detail := range map[string]string{"admin.user.delete": "user=" + c.ID, "admin.user.register-again": "user=" + alice.ID,
			"admin.user.sign-out": "user=" + alice.ID, "admin.user.clear-report": "user=" + alice.ID} {
			if n := auditCount(t, e, typ, "ok", detail); n != 1 {
				t.Errorf("%s audited %d times", typ, n)
			}
		}
		// A retried create with its Idempotency-Key creates once and
		// answers the same; the key with another body is refused.
		body := map[string]any{"username": "dora", "email": "dora@example.org", "setup_link": true}
		r1 := e.call(http.MethodPost, usersPath, tok, body, "Idempotency-Key", "create-dora")
		r2 := e.call(http.MethodPost, usersPath, tok, body, "Idempotency-Key", "create-dora")
		wantStatus(t, r1, http.StatusCreated)
		if r2.status != http.StatusCreated || string(r2.body) != string(r1.body) || r2.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %d %s", r2.status, r2.body)
		}
		body["username"] = "dora2"
		wantStatus(t, e.call(http.MethodPost, usersPath, tok, body, "Idempotency-Key", "create-dora"), http.StatusUnprocessableEntity)
		if n := auditCount(t, e, "admin.user.create", "ok", "username=dora"); n != 1 {
			t.Fatalf("an idempotent create ran %d times", n)
		}
		if e.validated.Load() < 40 {
			t.Fatalf("only %d responses validated", e.validated.Load())
		}
	})
}

// TestAdminAPIUsersAuthorization: the user operations turn away a normal
// user's token, a client without the admin scope and an expired token,
// and change nothing when they do.
func TestAdminAPIUsersAuthorization(t *testing.T) {
	eachAPI(t, func(t *testing.T, e *apiEnv) {
		alice := e.s.User
		normal := e.userToken(alice, []string{"pwd", "otp"}, time.Minute)
		noScope := e.clientToken(pt.ServiceClient, pt.ServiceSecret, "api")
		expired := e.adminClient()
		ops := []struct {
			method, path string
			body         any
		}{
			{http.MethodGet, "", nil},
			{http.MethodPost, "", map[string]any{"username": "mallory", "email": "m@example.org", "setup_link": true}},
			{http.MethodGet, "/" + alice.ID, nil},
			{http.MethodPatch, "/" + alice.ID, map[string]any{"email": "mallory@example.org"}},
			{http.MethodPost, "/" + alice.ID + "/password", map[string]any{"method": "temporary_password"}},
			{http.MethodPut, "/" + alice.ID + "/admin", nil},
			{http.MethodDelete, "/" + e.admin.ID + "/admin", nil},
			{http.MethodDelete, "/" + alice.ID, nil},
		}
		check := func(name, tok string, status int, code string) {
			for _, op := range ops {
				t.Run(name+" "+op.method+op.path, func(t *testing.T) {
					wantChallenge(t, e.call(op.method, usersPath+op.path, tok, op.body), status, code)
				})
			}
		}
		check("normal-user", normal, http.StatusForbidden, "insufficient_scope")
		check("no-admin-scope", noScope, http.StatusForbidden, "insufficient_scope")
		e.s.Clock.Advance(25 * time.Hour)
		check("expired", expired, http.StatusUnauthorized, "invalid_token")
		u, err := e.s.Users.ByID(t.Context(), alice.ID)
		if err != nil || u.Admin || u.Email != pt.Email || u.MustChangePassword {
			t.Fatalf("a refused caller changed alice: %+v %v", u, err)
		}
		if _, err := e.s.Users.ByLogin(t.Context(), "mallory"); err == nil {
			t.Fatal("a refused caller created a user")
		}
	})
}

// TestAdminAPIAdminFlag: the last administrator keeps the flag and cannot
// be disabled or deleted; nobody removes their own flag; and two
// administrators demoting each other at once leave exactly one.
func TestAdminAPIAdminFlag(t *testing.T) {
	eachAPI(t, func(t *testing.T, e *apiEnv) {
		ctx := t.Context()
		tok := e.adminClient()
		root := e.admin
		fresh := []string{"pwd", "otp"}
		rootTok := e.userToken(root, fresh, time.Minute)
		for _, op := range []struct{ method, path, want string }{
			{http.MethodDelete, "/" + root.ID + "/admin", "last enabled administrator"},
			{http.MethodPost, "/" + root.ID + "/disable", "last enabled administrator"},
			{http.MethodDelete, "/" + root.ID, "last enabled administrator"},
		} {
			r := e.call(op.method, usersPath+op.path, tok, nil)
			wantStatus(t, r, http.StatusConflict)
			if p := r.problem(t); !strings.Contains(p.Detail, op.want) {
				t.Fatalf("%s %s: detail %q", op.method, op.path, p.Detail)
			}
		}
		if n := auditCount(t, e, "admin.user.disable", "failed", "user="+root.ID); n != 1 {
			t.Fatalf("refused disable audited %d times", n)
		}
		r := e.call(http.MethodDelete, usersPath+"/"+root.ID+"/admin", rootTok, nil)
		wantStatus(t, r, http.StatusConflict)
		if p := r.problem(t); !strings.Contains(p.Detail, "their own admin flag") {
			t.Fatalf("own flag: %q", p.Detail)
		}
		if n := auditCount(t, e, "admin.user.admin", "failed", "user="+root.ID); n != 1 {
			t.Fatalf("refused demotion audited %d times", n)
		}
		bob, err := e.s.Users.Create(ctx, user.NewUser{Username: "bob", Email: "bob@example.com", Password: pt.Password})
		if err != nil {
			t.Fatal(err)
		}
		// As for the others: a password older than the sign-ins below.
		hourAgo := e.s.Clock.Now().Add(-time.Hour)
		if err := e.s.DB.Model(&user.User{}).Where("id = ?", bob.ID).
			Updates(map[string]any{"password_changed_at": hourAgo, "signed_out_at": hourAgo}).Error; err != nil {
			t.Fatal(err)
		}
		for round := range 3 {
			wantStatus(t, e.call(http.MethodPut, usersPath+"/"+bob.ID+"/admin", tok, nil), http.StatusOK)
			wantStatus(t, e.call(http.MethodPut, usersPath+"/"+root.ID+"/admin", tok, nil), http.StatusOK)
			tokens := map[string]string{root.ID: e.userToken(root, fresh, time.Minute), bob.ID: e.userToken(bob, fresh, time.Minute)}
			var wg sync.WaitGroup
			statuses := make([]int, 2)
			for i, pair := range [][2]string{{root.ID, bob.ID}, {bob.ID, root.ID}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i] = e.call(http.MethodDelete, usersPath+"/"+pair[1]+"/admin", tokens[pair[0]], nil).status
				}()
			}
			wg.Wait()
			admins, err := e.s.Users.Admins(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(admins) != 1 {
				t.Fatalf("round %d: %d administrators left (statuses %v)", round, len(admins), statuses)
			}
			ok := 0
			for _, s := range statuses {
				switch s {
				case http.StatusOK:
					ok++
				case http.StatusConflict, http.StatusForbidden: // refused, or no longer an admin when it was checked
				default:
					t.Fatalf("round %d: status %d", round, s)
				}
			}
			if ok != 1 {
				t.Fatalf("round %d: %d demotions succeeded", round, ok)
			}
		}
	})
}

// TestAdminAPIUsersPagination: 10,000 users page through the search with
// each seen exactly once.
func TestAdminAPIUsersPagination(t *testing.T) {
	eachAPI(t, func(t *testing.T, e *apiEnv) {
		const n = 10000
		now := e.s.Clock.Now()
		rows := make([]user.User, n)
		for i := range rows {
			name := fmt.Sprintf("p%05d", i)
			rows[i] = user.User{ID: fmt.Sprintf("01BULK%020d", i), Username: name, UsernameKey: name,
				Email: name + "@bulk.example", EmailKey: name + "@bulk.example", DisplayName: "Bulk " + name,
				NameKey: "bulk " + name, PasswordChangedAt: now, CreatedAt: now, UpdatedAt: now}
		}
		if err := e.s.DB.CreateInBatches(rows, 1000).Error; err != nil {
			t.Fatal(err)
		}
		tok := e.adminClient()
		for _, q := range []string{"p", ""} {
			seen := map[string]int{}
			cursor, pages := "", 0
			for {
				path := usersPath + "?limit=200&q=" + q
				if cursor != "" {
					path += "&cursor=" + cursor
				}
				r := e.call(http.MethodGet, path, tok, nil)
				wantStatus(t, r, http.StatusOK)
				var page admin.Page[admin.UserSummary]
				r.json(t, &page)
				for _, u := range page.Items {
					seen[u.ID]++
				}
				pages++
				if page.NextCursor == "" {
					break
				}
				cursor = page.NextCursor
				if pages > n/200+2 {
					t.Fatal("the pages do not end")
				}
			}
			want := n
			if q == "" {
				want = n + 2 // alice and root
			}
			if len(seen) != want {
				t.Fatalf("q=%q: %d users seen, want %d", q, len(seen), want)
			}
			for id, k := range seen {
				if k != 1 {
					t.Fatalf("q=%q: %s seen %d times", q, id, k)
				}
			}
		}
		wantFields(t, e.call(http.MethodGet, usersPath+"?cursor=bogus&limit=0", tok, nil), "limit")
		wantFields(t, e.call(http.MethodGet, usersPath+"?cursor=bogus", tok, nil), "cursor")
	})
}

var setupLinkRE = regexp.MustCompile(`https://\S+/security-info/setup\?token=\S+`)

// TestAdminAPISetupLinkByMail: a user created with an emailed setup link
// gets it through real SMTP on loopback, in their language, chooses a
// password with it and signs in; a reset to a setup link works the same,
// and a temporary password sends the user to change it first.
func TestAdminAPISetupLinkByMail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		e := startAPI(t, dbURL, ratelimit.Rule{}, true)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		tok := e.adminClient()
		r := e.call(http.MethodPost, usersPath, tok, map[string]any{"username": "greta", "email": "greta@example.org",
			"name": "Greta Beispiel", "locale": "de", "setup_link": true, "send_email": true, "link_ttl": 3600})
		wantStatus(t, r, http.StatusCreated)
		var created admin.UserCreated
		r.json(t, &created)
		if created.SetupLink == nil || !created.SetupLink.Emailed || created.SetupLink.URL != "" || created.User.State.HasPassword {
			t.Fatalf("created %s", r.body)
		}
		if n := auditCount(t, e, "admin.user.create", "ok", "emailed=true"); n != 1 {
			t.Fatalf("create audited %d times", n)
		}
		m, err := e.x.SMTP.Wait(ctx, "greta@example.org")
		if err != nil {
			t.Fatal(err)
		}
		link := setupLinkRE.FindString(m.Text)
		if !strings.Contains(m.Subject, "Passwort") || !strings.Contains(m.Text, "greta") || !strings.HasPrefix(link, e.s.URL+"/") ||
			!strings.Contains(m.HTML, `lang="de"`) {
			t.Fatalf("mail %q:\n%s", m.Subject, m.Text)
		}
		setPassword(t, e.s, link, "greta")

		// A reset to a setup link, emailed; then one handed to the admin.
		r = e.call(http.MethodPost, usersPath+"/"+created.User.ID+"/password", tok, map[string]any{"method": "setup_link", "send_email": true})
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.body), `"emailed":true`) || strings.Contains(string(r.body), "token=") {
			t.Fatalf("reset answer %s", r.body)
		}
		m, err = e.x.SMTP.WaitMatch(ctx, "greta@example.org", func(m2 smtptest.Message) bool { return setupLinkRE.FindString(m2.Text) != link })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Users.Authenticate(ctx, "greta", newAPIPassword); err == nil {
			t.Fatal("the password survived the reset")
		}
		setPassword(t, e.s, setupLinkRE.FindString(m.Text), "greta")
		r = e.call(http.MethodPost, usersPath+"/"+created.User.ID+"/password", tok, map[string]any{"method": "setup_link"})
		var done admin.PasswordResetDone
		r.json(t, &done)
		if done.SetupLink == nil || done.SetupLink.Emailed || !strings.HasPrefix(done.SetupLink.URL, e.s.URL+"/security-info/setup?token=") {
			t.Fatalf("handed-over link %s", r.body)
		}
		setPassword(t, e.s, done.SetupLink.URL, "greta")

		// A temporary password: returned once, then the sign-in goes to
		// the change-password page instead of the app.
		r = e.call(http.MethodPost, usersPath+"/"+created.User.ID+"/password", tok, map[string]any{"method": "temporary_password"})
		wantStatus(t, r, http.StatusOK)
		done = admin.PasswordResetDone{}
		r.json(t, &done)
		if done.TemporaryPassword == "" || done.SetupLink != nil {
			t.Fatalf("temporary answer %s", r.body)
		}
		rp := e.s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := e.s.NewBrowser(t)
		res := b.SignIn(plugintest.MustPage(t, b.Get(rp.Start().URL), "Sign in"), "greta", done.TemporaryPassword)
		if res.Redirect != nil || res.Page == nil || res.Page.URL.Path != "/security-info/password" {
			t.Fatalf("sign-in with the temporary password: %s", res)
		}
		if e.getUser(tok, created.User.ID).State.MustChangePassword != true {
			t.Fatal("must_change_password not shown")
		}
		// A disabled user gets no link: the setup page would refuse it.
		wantStatus(t, e.call(http.MethodPost, usersPath+"/"+created.User.ID+"/disable", tok, nil), http.StatusOK)
		wantStatus(t, e.call(http.MethodPost, usersPath+"/"+created.User.ID+"/password", tok, map[string]any{"method": "setup_link"}), http.StatusConflict)
	})
}

const newAPIPassword = "a brand new orchid lantern"

// setPassword opens a setup link in a browser, chooses newAPIPassword and
// signs in with it through a real RP.
func setPassword(t *testing.T, s *pt.Server, link, username string) {
	t.Helper()
	b := s.NewBrowser(t)
	page := plugintest.MustPage(t, b.Get(link), `action="/security-info/setup"`)
	plugintest.MustPage(t, b.Submit(page, `form[action="/security-info/setup"]`,
		map[string]string{"password": newAPIPassword, "confirm": newAPIPassword}), `Your password is set`)
	rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
	a := rp.Start()
	b2 := s.NewBrowser(t)
	code := rp.Callback(a, b2.SignIn(plugintest.MustPage(t, b2.Get(a.URL), "Sign in"), username, newAPIPassword)).Get("code")
	if _, err := rp.Exchange(t.Context(), a, code); err != nil {
		t.Fatalf("sign-in after the setup link: %v", err)
	}
}
