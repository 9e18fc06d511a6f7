package main

import (
	"net/url"
	"testing"

	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
)

// TestBrowserConsoleUsersJourney: in Chromium an admin creates a user
// with a setup link shown once (finished in a second browser), finds
// them, locks and unlocks them, resets the password to a new link, is
// refused the removal of their own admin flag, and deletes the user.
// Every page passes axe and fits a phone; LATCHKEY_SCREENSHOTS saves
// them as consoleusers-*.
func TestBrowserConsoleUsersJourney(t *testing.T) {
	consoleJourney(t, "consoleusers", false, func(t *testing.T, e *consoleEnv, tab *chrometest.Tab, visit func(name, sel string)) {
		s := e.x.Server
		tab.Click("#to-users")
		visit("list", "#user-search")
		tab.Click("#user-new")
		visit("new", "#user-form")
		tab.Type("#username", "nora")
		tab.Type("#email", "nora@example.com")
		tab.Type("#name", "Nora Example")
		tab.Type("#groups", "staff")
		tab.Click("#user-save")
		visit("created", "#setup-link")
		setPassword(t, s, tab.Text("#setup-link"), "nora")
		nora, err := s.Users.ByLogin(t.Context(), "nora")
		if err != nil {
			t.Fatal(err)
		}

		tab.Go(s.URL + "/admin/users")
		visit("list", "#user-search")
		tab.Type("#q", "nor")
		tab.Click("#user-search-go")
		tab.WaitURL(s.URL + "/admin/users?q=nor") // the list before it shows nora too
		visit("search", `#users a[href="/admin/users/`+nora.ID+`"]`)
		tab.Click(`#users a[href="/admin/users/` + nora.ID + `"]`)
		visit("user", "#act-lock")
		tab.Click("#act-lock")
		visit("locked", "#act-unlock")
		if u, _ := s.Users.ByID(t.Context(), nora.ID); !u.Locked(s.Clock.Now()) {
			t.Error("not locked")
		}
		tab.Click("#act-unlock")
		visit("unlocked", "#act-lock")
		tab.Click("#reset-go")
		visit("reset", "#setup-link")
		if got := tab.Text("#setup-link"); got == "" {
			t.Error("no setup link after the reset")
		}

		tab.Go(s.URL + "/admin/users/" + url.PathEscape(e.admin.ID))
		visit("admin", "#act-revoke-admin")
		tab.Click("#act-revoke-admin")
		visit("refused", "#form-problems")

		tab.Go(s.URL + "/admin/users/" + nora.ID + "/delete")
		visit("delete", "#delete-form")
		tab.Click("#delete-confirm")
		visit("deleted", "#notice")
		if _, err := s.Users.ByID(t.Context(), nora.ID); err == nil {
			t.Error("nora is still there")
		}
	})
}
