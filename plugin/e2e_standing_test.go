package plugin_test

import (
	"strings"
	"testing"

	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// TestRegistrationCountsAsRecovery: security questions registered alone
// count for nothing at registration, and recovery agrees: the page that
// asks for methods says so before the user relies on them, and a recovery
// by those questions ends at "You need another method".
func TestRegistrationCountsAsRecovery(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "US", "email", "questions")
		x.SetPolicy(t, "register_at_signin=true")
		rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := x.Server.NewBrowser(t)
		reg := mustPage(t, b.SignIn(mustPage(t, b.Get(rp.Start().URL), "Sign in"), pt.Username, pt.Password), "Keep your account secure")
		if !strings.Contains(reg.Body, "Security questions count only beside another method") {
			t.Errorf("the registration page does not say how questions count:\n%s", reg.Body)
		}
		href, _ := reg.Doc.Find(`a[href*="/security-info/add/questions"]`).Attr("href")
		add := mustPage(t, b.Get(reg.URL.ResolveReference(mustURL(href)).String()), "Add Security questions")
		vals := map[string]string{"current_password": pt.Password}
		for i := range 3 {
			n := string(rune('0' + i))
			opt := add.Doc.Find(`select[name="question.` + n + `"] option[selected]`)
			vals["question."+n] = opt.AttrOr("value", "")
			vals["answer."+n] = answerFor(strings.TrimSpace(opt.Text()))
		}
		back := mustPage(t, b.Submit(add, `form[action="/security-info/add/questions"]`, vals), "Keep your account secure")
		if !strings.Contains(back.Body, "count for recovery: 0 of 1") || !strings.Contains(back.Body, "do not count yet") {
			t.Errorf("questions alone are counted at registration:\n%s", back.Text("main"))
		}
		if back.Doc.Find(`form[action$="/continue"]`).Length() != 0 {
			t.Error("Continue offered with questions alone")
		}
		// Security info, opened from the prompt, leads back to the sign-in.
		href, _ = back.Doc.Find(`a:contains("Review your security info")`).Attr("href")
		info := mustPage(t, b.Get(back.URL.ResolveReference(mustURL(href)).String()), "Security info")
		if strings.Contains(info.Body, "Usable for recovery from") {
			t.Error("the first registration shows a cool-down")
		}
		link := info.Doc.Find(`a:contains("Back to signing in")`)
		if link.Length() != 1 {
			t.Fatalf("no way back to the app on Security info:\n%s", info.Text("main"))
		}
		href, _ = link.Attr("href")
		mustPage(t, b.Get(info.URL.ResolveReference(mustURL(href)).String()), "Keep your account secure")
		if plain := mustPage(t, b.Get(x.Server.URL+"/security-info"), "Security info"); strings.Contains(plain.Body, "Back to signing in") {
			t.Error("a way back shown without a sign-in to go back to")
		}
		if ms, _ := x.Store.List(t.Context(), x.Server.User.ID); len(ms) != 1 {
			t.Fatalf("questions not registered: %+v", ms)
		}

		// Recovery counts them the same: answered right, they are not enough.
		r := x.Server.NewBrowser(t)
		methods := x.RecoverStart(t, r, "", pt.Username)
		qs := mustPage(t, r.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "security questions")}),
			"Answer your security questions")
		answers := map[string]string{}
		for i, q := range questionTexts(qs.Body) {
			answers["answer."+string(rune('0'+i))] = answerFor(q)
		}
		mustPage(t, r.Submit(qs, "form", answers), "You need another method")
	})
}
