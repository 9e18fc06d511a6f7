package ui

import (
	"time"

	"github.com/latchkeyid/latchkey/ui/i18n"
)

// Recovery pages with the data their handlers pass (plugin/start.go,
// recover.go, verify.go, reset.go, notify.go): steps, exits, help, the
// method list, each kind of verify prompt and the Go-side messages.
type (
	recoverStep    struct{ N, M int }
	recoverHelp    struct{ URL, Mail string }
	recoverCaptcha struct {
		Kind                            string
		ID, ImageURL, AudioURL, SiteKey string
		ScriptURL                       string
		Digits                          int
	}
	recoverNeed struct {
		Two, App, Questions, Short bool
		More                       string
	}
	recoverOption struct {
		ID, Method, Label, Title, Value string
		Masked                          bool
	}
	recoverQuestion struct {
		ID, Text string
		Texts    map[string]string
	}
	recoverPrompt struct {
		Kind, Destination string
		Number            string
		Poll              string
		Digits            int
		Questions         []recoverQuestion
	}
)

func init() {
	until := time.Date(2026, 3, 2, 14, 5, 0, 0, time.UTC)
	exits := func(m map[string]any) map[string]any {
		m["CSRF"] = "tok"
		m["Back"], m["Cancel"] = "/recover/f1", "/login?authRequestID=ar1"
		if _, ok := m["Help"]; !ok {
			m["Help"] = recoverHelp{URL: "mailto:help@example.net", Mail: "help@example.net"}
		}
		return m
	}
	captcha := recoverCaptcha{Kind: "builtin", ID: "c1", ImageURL: "/recover/captcha/c1.png", AudioURL: "/recover/captcha/c1.wav", Digits: 6}
	options := func(l *i18n.Localizer) []recoverOption {
		return []recoverOption{
			{ID: "e1", Method: "push", Label: "Pixel 8", Title: l.T("method.push.name"), Value: "e1"},
			{ID: "e2", Method: "mobile", Label: "+33 6•• •• •• 12", Title: l.T("method.phone.sms"), Value: "e2:sms", Masked: true},
			{ID: "e2", Method: "mobile", Label: "+33 6•• •• •• 12", Title: l.T("method.phone.voice"), Value: "e2:voice", Masked: true},
			{ID: "e3", Method: "email", Label: "a•••@example.net", Title: l.T("method.email.name"), Value: "e3", Masked: true},
			{ID: "e4", Method: "questions", Label: "", Title: l.T("method.questions.name"), Value: "e4"},
		}
	}
	verify := func(kind string, p recoverPrompt, errID string) pageCase {
		return pageCase{"recover-verify", kind + errID, func(l *i18n.Localizer) any {
			m := exits(map[string]any{"Kind": kind, "Prompt": p, "Until": until, "Action": "/recover/f1/verify",
				"Step": recoverStep{3, 5}, "Resend": kind != "totp" && kind != "questions" && kind != "push",
				"ResendAction": "/recover/f1/resend", "Other": "/recover/f1/method"})
			if errID != "" {
				m["Error"] = l.T(errID)
			} else {
				m["Notice"] = l.T("verify.notice.sent_again")
			}
			return m
		}}
	}
	pageCases = append(pageCases,
		pageCase{"recover", "captcha", func(*i18n.Localizer) any {
			return exits(map[string]any{"Step": recoverStep{1, 4}, "Form": "form1", "Captcha": captcha,
				"AuthRequestID": "ar1", "Reason": "forgot", "Username": ""})
		}},
		pageCase{"recover", "wrong-captcha", func(l *i18n.Localizer) any {
			return exits(map[string]any{"Step": recoverStep{1, 4}, "Form": "form1", "Captcha": captcha,
				"Username": "alice", "Error": l.T("recover.start.error.captcha"), "ErrorField": "captcha", "FocusCaptcha": true,
				"Help": recoverHelp{URL: "https://help.example.net/"}})
		}},
		pageCase{"recover", "no-name", func(l *i18n.Localizer) any {
			return exits(map[string]any{"Step": recoverStep{1, 5}, "Form": "form1", "Captcha": captcha,
				"Error": l.T("recover.start.error.username"), "ErrorField": "username", "Help": recoverHelp{}})
		}},
		pageCase{"recover", "busy", func(l *i18n.Localizer) any {
			return exits(map[string]any{"Step": recoverStep{1, 4}, "Form": "form1", "Captcha": captcha,
				"Error": l.T("recover.start.error.busy")})
		}},
		pageCase{"recover-intent", "unlock", func(*i18n.Localizer) any {
			return exits(map[string]any{"Flow": "f1", "Unlock": true, "Step": recoverStep{2, 4}})
		}},
		pageCase{"recover-method", "first", func(l *i18n.Localizer) any {
			return exits(map[string]any{"Flow": "f1", "Options": options(l), "Step": recoverStep{3, 5},
				"Need": recoverNeed{App: true, Questions: true}, "Login": "alcie", "Again": "/recover?authRequestID=ar1"})
		}},
		pageCase{"recover-method", "two-short", func(l *i18n.Localizer) any {
			return exits(map[string]any{"Flow": "f1", "Options": options(l)[3:], "Step": recoverStep{3, 6},
				"Need": recoverNeed{Two: true, Questions: true, Short: true}, "Error": l.T("recover.method.error.choose")})
		}},
		pageCase{"recover-method", "one", func(l *i18n.Localizer) any {
			return exits(map[string]any{"Flow": "f1", "Options": options(l)[1:3], "Step": recoverStep{3, 5}, "Need": recoverNeed{}})
		}},
	)
	for _, more := range []string{"questions", "admin", "policy", "app", "channel"} {
		pageCases = append(pageCases, pageCase{"recover-method", "more-" + more, func(l *i18n.Localizer) any {
			return exits(map[string]any{"Flow": "f1", "Options": options(l)[1:], "Second": true, "Step": recoverStep{4, 6},
				"Need": recoverNeed{More: more}})
		}})
	}
	for _, msg := range [][2]string{{"recover.message.busy.title", "recover.message.busy.text"},
		{"recover.message.short.title", "recover.message.short.text"},
		{"recover.message.off.title", "recover.message.off.text"},
		{"recover.message.paused.title", "recover.message.paused.text"}} {
		pageCases = append(pageCases, pageCase{"recover-message", msg[0], func(l *i18n.Localizer) any {
			m := map[string]any{"CSRF": "tok", "Title": l.T(msg[0]), "Message": l.T(msg[1]), "Help": recoverHelp{}}
			if msg[0] == "recover.message.short.title" {
				m["Need"], m["Stuck"], m["Cancel"] = recoverNeed{More: "channel"}, true, "/login"
			}
			return m
		}})
	}
	questions := []recoverQuestion{{"q1", "In what city were you born?", nil}, {"q2", "What was your first pet's name?", nil}}
	pageCases = append(pageCases,
		verify("email", recoverPrompt{Kind: "email", Destination: "a•••@example.net"}, ""),
		verify("email", recoverPrompt{Kind: "email", Destination: "a•••@example.net"}, "verify.error.wrong_code"),
		verify("sms", recoverPrompt{Kind: "sms", Destination: "+33 6•• •• •• 12"}, "verify.error.expired"),
		verify("voice", recoverPrompt{Kind: "voice", Destination: "+33 6•• •• •• 12"}, "verify.error.tries"),
		verify("totp", recoverPrompt{Kind: "totp", Digits: 6}, "verify.error.wrong_totp"),
		verify("push", recoverPrompt{Kind: "push", Number: "42", Poll: "/recover/f1/poll"}, ""),
		verify("push", recoverPrompt{Kind: "push", Number: "42", Poll: "/recover/f1/poll"}, "verify.error.push"),
		verify("questions", recoverPrompt{Kind: "questions", Questions: questions}, "verify.error.wrong_answers"),
		verify("code", recoverPrompt{Kind: "code", Destination: "desk 12"}, "verify.error.unavailable"),
		pageCase{"recover-password", "plain", func(*i18n.Localizer) any {
			return map[string]any{"CSRF": "tok", "Step": recoverStep{5, 5}, "Flow": "f1", "MinLength": 12,
				"Action": "/recover/f1/password", "StrengthURL": "/recover/f1/strength", "Help": recoverHelp{}}
		}},
		pageCase{"recover-password", "mismatch", func(l *i18n.Localizer) any {
			return map[string]any{"CSRF": "tok", "Step": recoverStep{5, 5}, "Flow": "f1", "MinLength": 12,
				"Error": l.T("recover.password.error.mismatch"), "ErrorField": "confirm",
				"Action": "/recover/f1/password", "StrengthURL": "/recover/f1/strength", "Help": recoverHelp{}}
		}},
		pageCase{"recover-done", "unlocked", func(*i18n.Localizer) any {
			return map[string]any{"Unlock": true, "App": "Acme Portal", "SignIn": "/login?authRequestID=ar1", "Help": recoverHelp{}}
		}},
		pageCase{"recover-done", "continue", func(*i18n.Localizer) any {
			return map[string]any{"App": "Acme Portal", "Continue": "/authorize/callback?id=ar1", "SignIn": "/login", "Help": recoverHelp{}}
		}},
		pageCase{"recover-done", "continue-no-app", func(*i18n.Localizer) any {
			return map[string]any{"Continue": "/authorize/callback?id=ar1", "SignIn": "/login", "Help": recoverHelp{}}
		}},
		pageCase{"recover-done", "sign-in-first", func(*i18n.Localizer) any {
			return map[string]any{"App": "Acme Portal", "Pending": true, "SignInFirst": true, "SignIn": "/login", "Help": recoverHelp{}}
		}},
		pageCase{"recover-done", "pending", func(*i18n.Localizer) any {
			return map[string]any{"Pending": true, "SignIn": "/login", "Help": recoverHelp{}}
		}},
		pageCase{"recover-done", "plain", func(*i18n.Localizer) any {
			return map[string]any{"SignIn": "/login", "Help": recoverHelp{}}
		}},
		pageCase{"recover-report", "plain", func(*i18n.Localizer) any {
			return map[string]any{"CSRF": "tok", "Action": "/recover/report/tok1", "Help": recoverHelp{}}
		}},
	)
}

// The error pages the recovery and Security info handlers raise, with the
// message IDs their web.PageError carries.
func init() {
	for _, e := range [][3]string{
		{"recover.flow.title", "recover.flow.message", "recover.flow.start_again"},
		{"recover.report.gone_title", "recover.report.gone_text", ""},
		{"recover.reported.title", "recover.reported.text", ""},
		{"securityinfo.error.unavailable", "securityinfo.error.signin_again", ""},
		{"securityinfo.error.unavailable", "securityinfo.error.not_offered", ""},
	} {
		pageCases = append(pageCases, pageCase{"error", e[1], func(l *i18n.Localizer) any {
			link := ""
			if e[2] != "" {
				link = l.T(e[2])
			}
			return map[string]string{"Title": l.T(e[0]), "Message": l.T(e[1]), "Link": "/recover", "LinkText": link}
		}})
	}
}
