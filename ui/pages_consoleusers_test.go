package ui

import (
	"time"

	"github.com/latchkeyid/latchkey/ui/i18n"
)

// consoleUser has the fields of the admin API's user the pages show.
type consoleUser struct {
	ID, Username, Email, Name, GivenName, FamilyName, Phone, Locale string
	Groups                                                          []string
	Admin                                                           bool
	State                                                           map[string]any
	CreatedAt                                                       time.Time
	LastSignInAt                                                    *time.Time
}

func init() {
	when := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	ada := consoleUser{ID: "u1", Username: "ada", Email: "ada@example.com", Name: "Ada Lovelace", GivenName: "Ada",
		FamilyName: "Lovelace", Locale: "en", Groups: []string{"staff"}, CreatedAt: when, LastSignInAt: &when,
		State: map[string]any{"LockedUntil": &when, "HasPassword": true, "MustChangePassword": true,
			"RecoveryRegistered": true, "Methods": 1, "ReportedAt": &when}}
	summary := map[string]any{"ID": "u1", "Username": "ada", "Email": "ada@example.com", "Name": "Ada Lovelace",
		"Admin": true, "LockedUntil": &when}
	last := consoleProblems{Detail: "refused: this is the last enabled administrator; make another user an administrator first"}
	users := func(l *i18n.Localizer, m map[string]any) map[string]any { return consolePage(l, "users", m) }
	pageCases = append(pageCases,
		pageCase{"admin-users", "list", func(l *i18n.Localizer) any {
			return users(l, map[string]any{"Users": []map[string]any{summary, {"ID": "u2", "Username": "bob"}},
				"Query": "a", "Next": "/admin/users?cursor=x", "Notice": l.T("consoleusers.done.deleted")})
		}},
		pageCase{"admin-users", "none", func(l *i18n.Localizer) any { return users(l, map[string]any{"Query": "zz"}) }},
		pageCase{"admin-user", "locked-with-problem", func(l *i18n.Localizer) any {
			return users(l, map[string]any{"User": ada, "Base": "/admin/users/u1", "Problems": last,
				"Notice": l.T("consoleusers.done.lock"),
				"Actions": []map[string]any{{"Name": "disable"}, {"Name": "unlock"}, {"Name": "register-again"},
					{"Name": "clear-report"}, {"Name": "grant-admin"}},
				"Methods":  []map[string]any{{"ID": "m1", "Kind": "email", "Target": "a•••a@example.com", "RegisteredAt": when, "Idem": "k1"}},
				"Sessions": []map[string]any{{"SignedInAt": when, "Methods": []string{"pwd", "otp"}, "LastSeenAt": when}}})
		}},
		pageCase{"admin-user", "lockable-no-methods", func(l *i18n.Localizer) any {
			return users(l, map[string]any{"User": consoleUser{ID: "u2", Username: "bob", Admin: true, CreatedAt: when,
				State: map[string]any{"Disabled": true, "RegisterAgain": true}}, "Base": "/admin/users/u2",
				"CanLock": true, "Locks": []int64{3600, 86400, 604800, 2592000},
				"Actions": []map[string]any{{"Name": "enable"}, {"Name": "revoke-admin"}}})
		}},
		pageCase{"admin-user-form", "new-with-problems", func(l *i18n.Localizer) any {
			return users(l, map[string]any{"Form": map[string]any{"Initial": "password", "Groups": "staff"},
				"Fields": []map[string]any{{"Name": "username", "Label": "consoleusers.field.username", "Type": "text", "Value": "ada"},
					{"Name": "email", "Label": "consoleusers.field.email", "Type": "email"}},
				"Problems": consoleProblems{Fields: map[string][]string{"username": {"already taken"}, "password": {"too short"}}},
				"Action":   "/admin/users/new"})
		}},
		pageCase{"admin-user-form", "edit", func(l *i18n.Localizer) any {
			return users(l, map[string]any{"Edit": true, "Form": map[string]any{"ID": "u1", "Username": "ada"},
				"Fields": []map[string]any{{"Name": "name", "Label": "consoleusers.field.name", "Type": "text", "Value": "Ada"}},
				"Action": "/admin/users/u1/edit"})
		}},
		pageCase{"admin-user-delete", "confirm", func(l *i18n.Localizer) any {
			return users(l, map[string]any{"User": ada, "Action": "/admin/users/u1/delete", "Back": "/admin/users/u1"})
		}},
		pageCase{"admin-user-secret", "temporary", func(l *i18n.Localizer) any {
			return users(l, map[string]any{"Temporary": "Tmp-4f9a-22", "Back": "/admin/users/u1"})
		}},
		pageCase{"admin-user-secret", "created-link", func(l *i18n.Localizer) any {
			return users(l, map[string]any{"Created": true, "Back": "/admin/users/u1",
				"Link": map[string]any{"URL": "https://id.example/setup/abc", "ExpiresAt": when}})
		}},
		pageCase{"admin-user-secret", "emailed", func(l *i18n.Localizer) any {
			return users(l, map[string]any{"Back": "/admin/users/u1", "Link": map[string]any{"ExpiresAt": when}})
		}},
	)
}
