package main

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/user"
)

// The users pages create, find, change and delete a user through the
// admin API: a setup link shown once and used in another browser, a lock
// and an unlock, a reset, a sign-out everywhere, and the API's refusals
// (every problem at once; the last admin, the own flag) on the page.
func TestConsoleUsers(t *testing.T) {
	eachConsole(t, func(t *testing.T, e *consoleEnv, b *pt.Browser) {
		s := e.x.Server
		ctx := t.Context()
		load := func(login string) *user.User {
			t.Helper()
			u, err := s.Users.ByLogin(ctx, login)
			if err != nil {
				t.Fatalf("%s: %v", login, err)
			}
			return u
		}
		// submitOn opens a user's page, sends one of its forms and wants
		// the page again with the notice of done.
		submitOn := func(u *user.User, form string, values map[string]string, done string) *pt.Page {
			t.Helper()
			r := b.Submit(e.page(t, b, "/admin/users/"+u.ID), form, values)
			if r.Page == nil || r.Page.Status != http.StatusOK || r.Page.URL.RequestURI() != "/admin/users/"+u.ID+"?done="+done ||
				r.Page.Doc.Find("#notice").Length() == 0 {
				t.Fatalf("%s: %s", form, r)
			}
			return r.Page
		}

		// Every problem of the form at once, each beside its field.
		r := b.Submit(e.page(t, b, "/admin/users/new"), "#user-form", map[string]string{"username": "nora",
			"email": "not-an-address", "initial": "password", "password": ""})
		if r.Page == nil || r.Page.Status != http.StatusBadRequest || r.Page.Doc.Find("#err-email").Length() == 0 ||
			r.Page.Doc.Find("#err-password").Length() == 0 || r.Page.Doc.Find(`#email[aria-invalid="true"]`).Length() == 0 {
			t.Fatalf("want the email and password problems beside their fields, got %s", r)
		}

		// A setup link shown once, finished in another browser.
		filled, noraForm := r.Page, map[string]string{"username": "nora", "email": "nora@example.com",
			"name": "Nora Example", "groups": "staff\nops", "initial": "setup_link"}
		r = b.Submit(filled, "#user-form", noraForm)
		if r.Page == nil || r.Page.Status != http.StatusOK {
			t.Fatalf("create: %s", r)
		}
		link := r.Page.Text("#setup-link")
		if !strings.HasPrefix(link, s.URL+"/security-info/setup?token=") {
			t.Fatalf("want the setup link, got %s", r.Page.Body)
		}
		// The same submission again (a double click): its key replays the
		// answer, and nobody is created twice.
		if again := b.Submit(filled, "#user-form", noraForm); again.Page == nil || again.Page.Text("#setup-link") != link {
			t.Fatalf("the resent form: %s", again)
		}
		if n := len(s.AuditEvents(t, "admin.user.create")); n != 1 { // the invalid try changed nothing
			t.Errorf("%d create records, want 1", n)
		}
		nora := load("nora")
		if strings.Join(nora.Groups, " ") != "ops staff" && strings.Join(nora.Groups, " ") != "staff ops" {
			t.Errorf("groups %v", nora.Groups)
		}
		if strings.Contains(e.page(t, b, "/admin/users/"+nora.ID).Body, link) {
			t.Fatal("the setup link is shown again")
		}
		setPassword(t, s, link, "nora")

		// Search by the start of the username, the name and the address.
		for _, q := range []string{"nor", "Nora Ex", "nora@"} {
			p := e.page(t, b, "/admin/users?q="+url.QueryEscape(q))
			if p.Doc.Find(`#users a[href="/admin/users/`+nora.ID+`"]`).Length() != 1 {
				t.Errorf("search %q does not find nora: %s", q, p.Body)
			}
		}
		if e.page(t, b, "/admin/users?q=zzz").Doc.Find("#users-none").Length() != 1 {
			t.Error("a search without matches lists someone")
		}

		// Lock, then unlock; each audited with the admin as the actor.
		submitOn(nora, "#lock-form", map[string]string{"duration": "3600"}, "lock")
		if !load("nora").Locked(s.Clock.Now()) {
			t.Fatal("not locked")
		}
		page := submitOn(nora, `form[action$="/unlock"]`, nil, "unlock")
		if load("nora").Locked(s.Clock.Now()) || page.Doc.Find("#lock-form").Length() != 1 {
			t.Fatal("still locked")
		}
		for _, typ := range []string{"admin.user.lock", "admin.user.unlock"} {
			evs := s.AuditEvents(t, typ)
			if len(evs) != 1 || evs[0].UserID != e.admin.ID || evs[0].Outcome != "ok" || !strings.Contains(evs[0].Detail, nora.ID) {
				t.Errorf("%s records: %+v", typ, evs)
			}
		}

		// Edit the profile and groups.
		r = b.Submit(e.page(t, b, "/admin/users/"+nora.ID+"/edit"), "#user-form", map[string]string{"name": "Nora E.", "groups": "ops"})
		if r.Page == nil || r.Page.URL.RequestURI() != "/admin/users/"+nora.ID+"?done=saved" {
			t.Fatalf("edit: %s", r)
		}
		if u := load("nora"); u.DisplayName != "Nora E." || !slices.Equal(u.Groups, []string{"ops"}) || u.Email != "nora@example.com" {
			t.Fatalf("edit stored: %q %v %q", u.DisplayName, u.Groups, u.Email)
		}

		// The lock signed her out; a new sign-in is a session, then none.
		hers := s.NewBrowser(t)
		if r := hers.SignIn(hers.Get(s.URL+"/login").Page, "nora", newAPIPassword); r.Page == nil {
			t.Fatalf("nora's sign-in: %s", r)
		}
		if e.page(t, b, "/admin/users/"+nora.ID).Doc.Find("#sessions tbody tr").Length() == 0 {
			t.Fatal("no session listed")
		}
		if submitOn(nora, "#sign-out-form", nil, "signed-out").Doc.Find("#sessions-none").Length() != 1 {
			t.Fatal("sessions left after signing out everywhere")
		}

		// A registered method, removed from the page; the same button
		// again (a new key) says it is gone.
		e.x.EnrollTOTPFor(t, refOf(nora))
		withMethod := e.page(t, b, "/admin/users/"+nora.ID)
		removeForm := `#methods form[action*="/methods/"]`
		if withMethod.Doc.Find(removeForm).Length() != 1 {
			t.Fatalf("the method is not listed: %s", withMethod.Body)
		}
		if submitOn(nora, removeForm, nil, "method-removed").Doc.Find("#methods-none").Length() != 1 {
			t.Fatal("the method is still listed")
		}
		if evs := s.AuditEvents(t, "admin.method.remove"); len(evs) != 1 || evs[0].UserID != e.admin.ID {
			t.Errorf("removal records: %+v", evs)
		}
		r = b.Submit(withMethod, removeForm, map[string]string{"idem": "another-key"})
		if r.Page == nil || r.Page.Status != http.StatusBadRequest || !strings.Contains(r.Page.Text("#form-problems"), "already removed") {
			t.Fatalf("removing it again: %s", r)
		}

		// A temporary password, shown once; the old one stops working.
		r = b.Submit(e.page(t, b, "/admin/users/"+nora.ID), "#reset-form", map[string]string{"method": "temporary_password"})
		if r.Page == nil || r.Page.Status != http.StatusOK || len(r.Page.Text("#secret-value")) < 8 {
			t.Fatalf("reset: %s", r)
		}
		if _, err := s.Users.Authenticate(ctx, "nora", newAPIPassword); err == nil {
			t.Fatal("the old password survived the reset")
		}
		if !load("nora").MustChangePassword {
			t.Fatal("the temporary password need not be changed")
		}

		// The API's refusals, in words: the admin's own flag, the last
		// enabled admin.
		for _, tc := range []struct{ form, want string }{
			{`form[action$="/revoke-admin"]`, "cannot remove their own admin flag"},
			{`form[action$="/disable"]`, "last enabled administrator"},
		} {
			r := b.Submit(e.page(t, b, "/admin/users/"+e.admin.ID), tc.form, nil)
			if r.Page == nil || r.Page.Status != http.StatusBadRequest || !strings.Contains(r.Page.Text("#form-problems"), tc.want) {
				t.Fatalf("%s: want %q, got %s", tc.form, tc.want, r)
			}
		}
		if u := load(e.admin.Username); !u.Admin || u.Disabled {
			t.Fatal("the refused actions changed the admin")
		}
		// Another admin may be made and unmade.
		submitOn(nora, `form[action$="/grant-admin"]`, nil, "grant-admin")
		submitOn(nora, `form[action$="/revoke-admin"]`, nil, "revoke-admin")
		if load("nora").Admin {
			t.Fatal("still an admin")
		}

		// Delete, after the confirmation page.
		r = b.Submit(e.page(t, b, "/admin/users/"+nora.ID+"/delete"), "#delete-form", nil)
		if r.Page == nil || r.Page.URL.RequestURI() != "/admin/users?done=deleted" {
			t.Fatalf("delete: %s", r)
		}
		if _, err := s.Users.ByLogin(ctx, "nora"); err == nil {
			t.Fatal("nora is still there")
		}
		if r := b.Get(s.URL + "/admin/users/" + nora.ID); r.Page == nil || r.Page.Status != http.StatusNotFound {
			t.Fatalf("a deleted user's page: %s", r)
		}
	})
}

// A users form without the session's CSRF token, or with another
// session's, is refused and changes nothing.
func TestConsoleUsersCSRF(t *testing.T) {
	eachConsole(t, func(t *testing.T, e *consoleEnv, b *pt.Browser) {
		s := e.x.Server
		victim := e.newUser("vic")
		other := e.signedIn(t)
		otherToken, _ := e.page(t, other, "/admin/users/new").Doc.Find(`#user-form input[name="csrf"]`).Attr("value")
		for _, tc := range []struct {
			name string
			form url.Values
		}{
			{"no-token", url.Values{}},
			{"other-sessions-token", url.Values{"csrf": {otherToken}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, path := range []string{"/disable", "/delete", "/grant-admin"} {
					r := b.Navigate(http.MethodPost, s.URL+"/admin/users/"+victim.ID+path, tc.form)
					if r.Page == nil || r.Page.Status != http.StatusForbidden || !strings.Contains(r.Page.Body, "nothing was changed") {
						t.Fatalf("%s: want the refusal page, got %s", path, r)
					}
				}
			})
		}
		u, err := s.Users.ByID(t.Context(), victim.ID)
		if err != nil || u.Disabled || u.Admin {
			t.Fatalf("a refused form changed the user: %v %+v", err, u)
		}
		for _, typ := range []string{"admin.user.disable", "admin.user.delete", "admin.user.admin"} {
			if n := len(s.AuditEvents(t, typ)); n != 0 {
				t.Errorf("%d %s records after refused forms", n, typ)
			}
		}
	})
}

// The search pages through its matches with the API's cursor, the query
// kept: 51 matches are a full page and one more, everyone once.
func TestConsoleUsersNextPage(t *testing.T) {
	eachConsole(t, func(t *testing.T, e *consoleEnv, b *pt.Browser) {
		s := e.x.Server
		for i := range 51 {
			name := fmt.Sprintf("pager%02d", i)
			if _, err := s.Users.Create(t.Context(), user.NewUser{Username: name, Email: name + "@example.com"}); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]bool{}
		p := e.page(t, b, "/admin/users?q=pager")
		for pages := 1; ; pages++ {
			p.Doc.Find("#users tbody a").Each(func(_ int, a *goquery.Selection) { seen[a.Text()] = true })
			next, ok := p.Doc.Find("#users-next").Attr("href")
			if !ok {
				if pages != 2 {
					t.Errorf("%d pages, want 2", pages)
				}
				break
			}
			if !strings.Contains(next, "q=pager") || pages > 2 {
				t.Fatalf("next page %q after %d pages", next, pages)
			}
			p = e.page(t, b, next)
		}
		if len(seen) != 51 {
			t.Fatalf("%d users seen, want 51", len(seen))
		}
	})
}
