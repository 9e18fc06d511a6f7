package ui

import (
	"time"

	"github.com/latchkeyid/latchkey/ui/i18n"
)

// Security info pages with the data their handlers pass
// (plugin/securityinfo.go, inforows.go, changepassword.go): rows, the
// add list, the add forms of each method, the step-up and the
// registration prompt.
type (
	infoRow struct {
		ID, Method, Title, Detail, Added, Usable, Line string
	}
	infoKind     struct{ Method, Title string }
	infoStanding struct {
		Counted, Needed                int
		Enough, QuestionsOnly, AppRule bool
	}
	infoPrompt struct {
		Kind, Destination, Number, Poll string
		QRCode                          string
		Secret, OTPAuthURI, Link        string
		Questions                       []recoverQuestion
	}
	infoSlot struct {
		I, N                   int
		Selected, Answer       string
		BadQuestion, BadAnswer bool
	}
	infoCountry struct{ Region, Name, Dial string }
)

func init() {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	rows := func(l *i18n.Localizer) []infoRow {
		added := l.Date(now.AddDate(0, -2, 0))
		line := func(title, detail string) string {
			return title + " · " + detail + " · " + l.T("securityinfo.row.added", "Date", added)
		}
		usable := l.T("securityinfo.when.zone", "When", l.T("securityinfo.when.tomorrow", "Time", l.Clock(now.Add(26*time.Hour))), "Zone", l.Zone())
		return []infoRow{
			{ID: "e1", Method: "push", Title: l.T("method.app.name"), Detail: "Pixel 8", Added: added, Line: line(l.T("method.app.name"), "Pixel 8")},
			{ID: "e2", Method: "mobile", Title: l.T("method.mobile.name"), Detail: "+33 6 12 34 56 78", Added: added, Usable: usable,
				Line: line(l.T("method.mobile.name"), "+33 6 12 34 56 78")},
			{ID: "e3", Method: "email", Title: l.T("method.email.name"), Detail: "alice@example.net", Added: added,
				Line: line(l.T("method.email.name"), "alice@example.net")},
		}
	}
	kinds := func(l *i18n.Localizer) []infoKind {
		return []infoKind{{"totp", l.T("method.app.name")}, {"push", l.T("method.app.name") + " (" + l.T("method.push.name") + ")"},
			{"mobile", l.T("method.mobile.name")}, {"office-phone", l.T("method.office-phone.name")},
			{"email", l.T("method.email.name")}, {"questions", l.T("method.questions.name")}}
	}
	addPage := func(page, name string, data func(l *i18n.Localizer) map[string]any) pageCase {
		return pageCase{page, name, func(l *i18n.Localizer) any {
			m := data(l)
			m["CSRF"] = "tok"
			return m
		}}
	}
	pool := []recoverQuestion{{"q1", "In what city were you born?", nil}, {"q2", "What was your first pet's name?", nil}, {"q3", "What is your oldest cousin's first name?", nil}}
	countries := []infoCountry{{"FR", "France", "+33"}, {"DE", "Deutschland", "+49"}}
	pageCases = append(pageCases,
		addPage("security-info", "rows", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Name": "Alice Martin", "Methods": rows(l), "Add": kinds(l), "Notice": l.T("securityinfo.notice.added"),
				"Back": "/authorize/callback?id=ar1", "App": "Acme Portal", "QuestionsOffered": true,
				"Standing": infoStanding{Counted: 1, Needed: 2, AppRule: true}}
		}),
		addPage("security-info", "questions-only", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Name": "alice", "Methods": rows(l)[2:], "Add": kinds(l), "Back": "/login",
				"Standing": infoStanding{Counted: 0, Needed: 1, QuestionsOnly: true}}
		}),
		addPage("security-info", "none", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Name": "alice", "Add": kinds(l), "Notice": l.T("securityinfo.notice.removed"), "Standing": infoStanding{Needed: 1}}
		}),
		addPage("security-info-add-app", "two", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Apps": []infoKind{{"push", l.T("method.push.name")}, {"totp", l.T("method.totp.name")}}, "Register": "r1"}
		}),
		addPage("security-info-add", "email", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Method": "email", "Title": l.T("method.email.name"), "Action": "/security-info/add/email", "AskPassword": true}
		}),
		addPage("security-info-add", "totp-start", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Method": "totp", "Title": l.T("method.totp.name"), "Action": "/security-info/add/totp", "Register": "r1"}
		}),
		addPage("security-info-add", "push-start", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Method": "push", "Title": l.T("method.push.name"), "Action": "/security-info/add/push"}
		}),
		addPage("security-info-add", "questions", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Method": "questions", "Title": l.T("method.questions.name"), "Action": "/security-info/add/questions",
				"Pool": pool, "Slots": []infoSlot{{I: 0, N: 1, Selected: "q1", Answer: "Lyon"}, {I: 1, N: 2, Selected: "q2", BadAnswer: true},
					{I: 2, N: 3, Selected: "q3"}}}
		}),
		addPage("security-info-add", "totp-code", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Method": "totp", "Title": l.T("method.totp.name"), "Flow": "f1", "Action": "/security-info/add/totp/f1",
				"Prompt": infoPrompt{Kind: "totp", QRCode: "\x89PNG", Secret: "JBSWY3DPEHPK3PXP",
					OTPAuthURI: "otpauth://totp/Latchkey:alice?secret=JBSWY3DPEHPK3PXP"},
				"KeyGroups": "JBSW Y3DP EHPK 3PXP", "OTPAuthLink": "otpauth://totp/Latchkey:alice?secret=JBSWY3DPEHPK3PXP",
				"UsableFrom": l.T("securityinfo.when.zone", "When", l.T("securityinfo.when.today", "Time", l.Clock(now.Add(2*time.Hour))), "Zone", l.Zone()),
				"Error":      l.T("securityinfo.wrong.totp")}
		}),
		addPage("security-info-add", "push-code", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Method": "push", "Title": l.T("method.push.name"), "Flow": "f1", "Action": "/security-info/add/push/f1",
				"Prompt": infoPrompt{Kind: "push", QRCode: "\x89PNG", Link: "/authenticator/#pair=abc"}}
		}),
		addPage("security-info-add", "email-code", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Method": "email", "Title": l.T("method.email.name"), "Flow": "f1", "Action": "/security-info/add/email/f1",
				"Prompt": infoPrompt{Kind: "code", Destination: "alice@example.net"}, "Error": l.T("securityinfo.wrong.code")}
		}),
		addPage("security-info-add-phone", "form", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Method": "mobile", "Title": l.T("method.mobile.name"), "Action": "/security-info/add/mobile",
				"Countries": countries, "Region": "FR", "Channels": []string{"sms", "voice"}, "AskPassword": true, "Phone": "06 12 34 56 78"}
		}),
		addPage("security-info-add-phone", "office", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Method": "office-phone", "Title": l.T("method.office-phone.name"), "Action": "/security-info/add/office-phone",
				"Countries": countries, "Region": "DE", "Channels": []string{"voice"}, "Extension": true}
		}),
		addPage("security-info-add-phone", "code", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Method": "mobile", "Title": l.T("method.mobile.name"), "Flow": "f1", "Action": "/security-info/add/mobile/f1",
				"Channel": "sms", "Prompt": infoPrompt{Kind: "code", Destination: "+33 6 12 34 56 78"}}
		}),
		addPage("security-info-add-phone", "voice-code", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Method": "mobile", "Title": l.T("method.mobile.name"), "Flow": "f1", "Action": "/security-info/add/mobile/f1",
				"Channel": "voice", "Prompt": infoPrompt{Kind: "code", Destination: "+33 6 12 34 56 78"}, "Error": l.T("securityinfo.wrong.code")}
		}),
		addPage("security-info-register", "ask", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Flow": "r1", "Have": 1, "Need": 2, "Later": 1, "Standing": infoStanding{Counted: 1, Needed: 2, AppRule: true},
				"QuestionsOffered": true, "Add": kinds(l), "CanAdd": true, "Methods": rows(l)[2:],
				"Notice": l.T("securityinfo.notice.added"), "SkipsLeft": 2, "CanSkip": true}
		}),
		addPage("security-info-register", "enough", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Flow": "r1", "Have": 2, "Need": 2, "Later": 0, "Enough": true, "Standing": infoStanding{Counted: 2, Needed: 2, Enough: true},
				"Add": kinds(l), "CanAdd": false}
		}),
		addPage("security-info-register", "reconfirm", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Flow": "r1", "Reconfirm": true, "Later": 0, "Standing": infoStanding{},
				"Methods": append(rows(l), infoRow{ID: "e4", Method: "questions", Title: l.T("method.questions.name"),
					Detail: l.T("method.label.questions", "Count", 3)})}
		}),
		addPage("security-info-verify", "choose", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Next": "/security-info/password", "Error": l.T("securityinfo.verify.choose_error"),
				"Options": []recoverOption{{ID: "e1", Method: "push", Label: "Pixel 8", Title: l.T("method.push.name"), Value: "e1"},
					{ID: "e3", Method: "email", Label: "a•••@example.net", Title: l.T("method.email.name"), Value: "e3", Masked: true}}}
		}),
		addPage("security-info-verify", "stale", func(*i18n.Localizer) map[string]any {
			return map[string]any{"Stale": true, "SignIn": "/login?username=alice"}
		}),
		addPage("security-info-verify", "code", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Flow": "f1", "Action": "/security-info/verify/f1", "Prompt": infoPrompt{Kind: "code", Destination: "a•••@example.net"},
				"Error": l.T("securityinfo.wrong.code")}
		}),
		addPage("security-info-verify", "number", func(*i18n.Localizer) map[string]any {
			return map[string]any{"Flow": "f1", "Action": "/security-info/verify/f1", "Prompt": infoPrompt{Kind: "number", Number: "42", Poll: "/poll"}}
		}),
		addPage("security-info-verify", "questions", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"Flow": "f1", "Action": "/security-info/verify/f1", "Prompt": infoPrompt{Kind: "questions", Questions: pool[:2]},
				"Error": l.T("securityinfo.wrong.questions")}
		}),
		addPage("security-info-password", "plain", func(*i18n.Localizer) map[string]any {
			return map[string]any{"MinLength": 12, "StrengthURL": "/security-info/password/strength", "SignOutOthers": true}
		}),
		addPage("security-info-password", "temporary", func(*i18n.Localizer) map[string]any {
			return map[string]any{"MinLength": 12, "StrengthURL": "/security-info/password/strength", "Temporary": true}
		}),
		addPage("security-info-setup", "plain", func(*i18n.Localizer) map[string]any {
			return map[string]any{"MinLength": 12, "Token": "T0KEN", "Username": "alice"}
		}),
		addPage("security-info-setup", "refused", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"MinLength": 12, "Token": "T0KEN", "Username": "alice",
				"Error": l.T("securityinfo.password.mismatch"), "ErrorField": "confirm"}
		}),
		addPage("security-info-password", "mismatch", func(l *i18n.Localizer) map[string]any {
			return map[string]any{"MinLength": 12, "StrengthURL": "/security-info/password/strength",
				"Error": l.T("securityinfo.password.mismatch"), "ErrorField": "confirm"}
		}),
	)
}
