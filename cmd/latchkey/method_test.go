package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

func TestMethodCommands(t *testing.T) {
	c := newCLI(t, dbtest.URL(t, dbtest.SQLite))
	c.must(alicePW+"\n", "user", "create", "--username", "alice", "--email", "alice@example.com", "--password-stdin")
	g := dbtest.Open(t, c.dbURL, migrationSets()...)
	users := c.must("", "user", "show", "alice")
	id := strings.Fields(strings.SplitN(users, "\n", 2)[0])[1]
	e := &method.Enrollment{ID: "TESTMETHOD0000000000000001", UserID: id, Method: "totp", Label: "Authenticator app", Data: []byte("sealed")}
	if err := method.NewStore(g).Add(t.Context(), e, 0); err != nil {
		t.Fatal(err)
	}
	if out := c.must("", "method", "list", "--user", "alice"); !strings.Contains(out, e.ID) || !strings.Contains(out, "Authenticator app") {
		t.Fatalf("list:\n%s", out)
	}
	if r := c.run("", "method", "remove", "--user", "alice", "--id", "NOPE"); r.code != exitFailed || !strings.Contains(r.err, "no method") {
		t.Fatalf("remove unknown: %d %s", r.code, r.err)
	}
	if out := c.must("", "method", "remove", "--user", "alice", "--id", e.ID); !strings.Contains(out, "removed totp") {
		t.Fatalf("remove: %s", out)
	}
	if out := c.must("", "method", "list", "--user", "alice"); strings.Contains(out, e.ID) {
		t.Fatalf("still listed:\n%s", out)
	}
	if out := c.must("", "audit", "--type", "admin.method.remove"); !strings.Contains(out, "method=totp") {
		t.Fatalf("not audited:\n%s", out)
	}
}

// masked is the label a phone enrollment shows for e164.
func masked(t *testing.T, e164 string) string {
	t.Helper()
	n, err := phone.ParseE164(e164)
	if err != nil {
		t.Fatal(err)
	}
	return n.Masked()
}

// methodIDs reads `method list` into method name → enrollment IDs.
func methodIDs(out string) map[string][]string {
	ids := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 2 {
			ids[f[1]] = append(ids[f[1]], f[0])
		}
	}
	return ids
}

// `method add` registers what an administrator vouches for, with the
// checks a user's own registration meets, and refuses duplicates.
func TestMethodAdd(t *testing.T) {
	clearLatchkeyEnv(t)
	dbtest.Each(t, func(t *testing.T, url string) {
		c := newCLI(t, url)
		for _, u := range []string{"alice", "bob"} {
			c.must(alicePW+"\n", "user", "create", "--username", u, "--email", u+"@example.com", "--password-stdin")
		}
		add := func(user, typ, value string, more ...string) []string {
			return append([]string{"method", "add", "--user", user, "--type", typ, "--value", value}, more...)
		}
		tests := []struct {
			name string
			args []string
			code int
			want string // in stdout on success, stderr on failure
		}{
			{"email", add("alice", "email", "Alice.Home@example.org"), exitOK, "added email " + method.MaskEmail("Alice.Home@example.org") + " for alice\n"},
			{"mobile-e164", add("alice", "mobile", "+1 201-555-0123"), exitOK, "added mobile " + masked(t, "+12015550123") + " for alice\n"},
			{"office-phone-with-extension", add("alice", "office-phone", "+1 201 555 0125", "--extension", "12 34"), exitOK, "added office-phone " + masked(t, "+12015550125")},
			{"alternate-phone", add("alice", "alternate-phone", "+1 800 234 5678"), exitOK, "added alternate-phone " + masked(t, "+18002345678")},
			{"mobile-national-default-region", add("bob", "mobile", "(201) 555-0124"), exitOK, "added mobile " + masked(t, "+12015550124") + " for bob"},
			{"mobile-national-other-region", add("bob", "mobile", "07400 123456", "--default-region", "GB"), exitOK, "added mobile " + masked(t, "+447400123456") + " for bob"},
			{"same-number-other-user", add("bob", "mobile", "+12015550123"), exitOK, "for bob"},

			{"bad-number", add("alice", "mobile", "+1 555 555 5555"), exitUsage, `--value "+1 555 555 5555": That isn't a valid phone number`},
			{"premium-rate", add("alice", "alternate-phone", "+1 900 234 5678"), exitUsage, "Premium-rate numbers can't be used."},
			{"toll-free-as-mobile", add("alice", "mobile", "+1 800 234 5678"), exitUsage, "Toll-free numbers can't receive texts."},
			{"country-not-allowed", add("alice", "mobile", "+49 1512 3456789"), exitUsage, "Numbers in that country can't be used here."},
			{"national-number-of-other-region", add("alice", "mobile", "07400 123456"), exitUsage, "isn't a valid phone number"},
			{"extension-on-mobile", add("alice", "mobile", "+1 201 555 0127", "--extension", "12"), exitUsage, `--extension "12": Only an office phone can have an extension.`},
			{"extension-letters", add("alice", "office-phone", "+1 201 555 0127", "--extension", "12a"), exitUsage, "An extension has digits only."},
			{"extension-on-email", add("alice", "email", "x@example.com", "--extension", "1"), exitUsage, "--extension is only for --type office-phone"},
			{"bad-email", add("alice", "email", "Eve <eve@example.com>"), exitUsage, "Enter a single email address"},
			{"unknown-type", add("alice", "fax", "+12015550123"), exitUsage, "--type must be one of"},
			{"unknown-user", add("nobody", "mobile", "+12015550128"), exitFailed, `no user "nobody"`},
			{"duplicate-mobile", add("alice", "mobile", "(201) 555-0123"), exitFailed, "alice already has mobile " + masked(t, "+12015550123")},
			{"duplicate-email-other-case", add("alice", "email", "alice.home@EXAMPLE.org"), exitFailed, "alice already has email"},
		}
		added := 0
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := c.run("", tc.args...)
				got := r.out
				if tc.code != exitOK {
					got = r.err
				}
				if r.code != tc.code || !strings.Contains(got, tc.want) {
					t.Fatalf("exit %d, want %d; want %q in\nstdout: %s\nstderr: %s", r.code, tc.code, tc.want, r.out, r.err)
				}
				if r.code == exitOK {
					added++
				} else if r.out != "" {
					t.Fatalf("a refusal printed %q", r.out)
				}
			})
		}
		// Without SMTP, Twilio or a policy enabling them, the operator is told.
		if r := c.run("", add("bob", "email", "bob.home@example.org")...); r.code != exitOK ||
			!strings.Contains(r.err, "LATCHKEY_SMTP_URL") || !strings.Contains(r.err, "does not enable email") {
			t.Fatalf("no notes on an undeliverable method: %d %s", r.code, r.err)
		}
		added++
		// The policy's allowlist applies: DE is refused above, accepted once allowed.
		c.must("", "policy", "set", "phone_countries=US,DE")
		c.must("", "method", "add", "--user", "bob", "--type", "mobile", "--value", "+49 1512 3456789")
		added++

		list := c.must("", "method", "list", "--user", "alice")
		for _, want := range []string{method.MaskEmail("Alice.Home@example.org"), masked(t, "+12015550123"), masked(t, "+12015550125"), masked(t, "+18002345678")} {
			if !strings.Contains(list, want) {
				t.Errorf("method list lacks %s:\n%s", want, list)
			}
		}
		if ids := methodIDs(list); len(ids["email"]) != 1 || len(ids["mobile"]) != 1 || len(ids["office-phone"]) != 1 || len(ids["alternate-phone"]) != 1 {
			t.Fatalf("alice's methods %v:\n%s", ids, list)
		}
		// An administrator vouches for the value: usable at once, even
		// beside other methods (no cool-down).
		g := dbtest.Open(t, c.dbURL, migrationSets()...)
		users := c.must("", "user", "show", "alice")
		aliceID := strings.Fields(strings.SplitN(users, "\n", 2)[0])[1]
		if usable, err := method.NewStore(g).Usable(t.Context(), aliceID); err != nil || len(usable) != 4 {
			t.Fatalf("%d of alice's 4 methods usable now, %v", len(usable), err)
		}
		// The phone methods serve builds open the office phone and call
		// it, dialling the extension.
		phones, box := servedPhones(t, c, url, nil)
		office := phones[method.OfficePhone]
		es, err := method.NewStore(g).List(t.Context(), aliceID)
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, e := range es {
			if e.Method != method.OfficePhone {
				continue
			}
			checked++
			if tg, err := office.Target(e); err != nil || tg.Number.E164 != "+12015550125" || tg.Extension != "1234" {
				t.Fatalf("serve reads the office phone as %+v, %v", tg, err)
			}
			if _, err := office.Challenge(t.Context(), "flow", method.Ref{ID: aliceID, Username: "alice"}, e); err != nil {
				t.Fatalf("Challenge: %v", err)
			}
			if calls := box.To("+12015550125"); len(calls) != 1 || calls[0].Extension != "1234" {
				t.Fatalf("calls to the office phone: %+v", calls)
			}
		}
		if checked != 1 {
			t.Fatalf("%d office phones stored for alice", checked)
		}
		audited := c.must("", "audit", "--type", "admin.method.add", "--limit", "100")
		if n := strings.Count(audited, "admin.method.add"); n != added {
			t.Fatalf("%d admin.method.add events for %d methods added:\n%s", n, added, audited)
		}
		if !strings.Contains(audited, "method=office-phone label="+masked(t, "+12015550125")) {
			t.Fatalf("audit lacks the office phone:\n%s", audited)
		}
	})
}

// submit posts the form of the page (resp, body) whose action ends with
// action: its hidden and checked fields, then set.
func submit(t *testing.T, c *http.Client, resp *http.Response, body, action string, set url.Values) (*http.Response, string) {
	t.Helper()
	resp, b, err := submitForm(c, resp, body, action, set)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// submitForm is submit for goroutines, which may not stop the test.
func submitForm(c *http.Client, resp *http.Response, body, action string, set url.Values) (*http.Response, string, error) {
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	form := doc.Find("form").FilterFunction(func(_ int, s *goquery.Selection) bool {
		a, _ := s.Attr("action")
		return strings.HasSuffix(a, action)
	}).First()
	if form.Length() == 0 {
		return nil, "", fmt.Errorf("no form to %s at %s (%d)", action, resp.Request.URL, resp.StatusCode)
	}
	vals := url.Values{}
	form.Find("input[name]").Each(func(_ int, s *goquery.Selection) {
		typ, _ := s.Attr("type")
		if _, checked := s.Attr("checked"); (typ == "radio" || typ == "checkbox") && !checked {
			return
		}
		n, _ := s.Attr("name")
		v, _ := s.Attr("value")
		vals.Set(n, v)
	})
	for k, v := range set {
		vals[k] = v
	}
	a, _ := form.Attr("action")
	target, _ := resp.Request.URL.Parse(a)
	resp, err = c.PostForm(target.String(), vals)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), nil
}

var codeRE = regexp.MustCompile(`\b[0-9]{8}\b|\b([0-9], ){7}[0-9]\b`)

// outboxCode waits for serve's dev outbox to show a message to addr and
// returns its code.
func outboxCode(t *testing.T, c *http.Client, base, addr string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, body := get(t, c, base+"/dev/outbox")
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		code := ""
		doc.Find("article").EachWithBreak(func(_ int, s *goquery.Selection) bool {
			if strings.Contains(s.Find("p").First().Text(), "To: "+addr+" ") { // newest first
				// A text holds the code; a call spells it out: "7, 1, 4, ...".
				code = strings.ReplaceAll(codeRE.FindString(s.Find("pre").Text()), ", ", "")
				return false
			}
			return true
		})
		if code != "" {
			return code
		}
		if time.Now().After(deadline) {
			t.Fatalf("no code to %s in the dev outbox:\n%s", addr, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The end-to-end check: methods `method add` provisions into the database
// of a running `serve --dev` carry recovery there. The server sends the
// code to the provisioned number and address, and accepts it.
func TestMethodAddRecoversInServe(t *testing.T) {
	clearLatchkeyEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	common := []string{"--dev", "--data-dir", dir, "--database", "sqlite://" + filepath.Join(dir, "latchkey.db"),
		"--argon2-memory", "7168", "--argon2-time", "5"}
	srv := startServe(t, append([]string{"--captcha", "off"}, common...)...)
	cli := func(args ...string) string {
		t.Helper()
		code, out, errs := cmdRun(t, "", append(args, common...)...)
		if code != exitOK {
			t.Fatalf("latchkey %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	const mobile, office, addr = "+12015550123", "+12015550125", "demo.private@example.org"
	cli("method", "add", "--user", devUsername, "--type", "mobile", "--value", "(201) 555-0123")
	cli("method", "add", "--user", devUsername, "--type", "office-phone", "--value", office, "--extension", "77")
	cli("method", "add", "--user", devUsername, "--type", "email", "--value", addr)
	cli("policy", "set", "methods=mobile,office-phone,email")
	ids := methodIDs(cli("method", "list", "--user", devUsername))

	// The user hears of each change, as from the Security info page: the
	// CLI queues the mail, the running server sends it.
	jar, _ := cookiejar.New(nil)
	mailed := func(to, subject string, want int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			_, body := get(t, &http.Client{Jar: jar, Timeout: 30 * time.Second}, srv.base+"/dev/outbox")
			doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			n := doc.Find("article").FilterFunction(func(_ int, s *goquery.Selection) bool {
				return s.Find("h2").Text() == subject && strings.Contains(s.Find("p").First().Text(), "To: "+to+" ") &&
					strings.Contains(s.Text(), "an administrator (latchkey command)")
			}).Length()
			if n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d mails %q to %s, want %d:\n%s", n, subject, to, want, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	mailed("demo@example.com", "A sign-in method was added to your account", 3)
	mailed(addr, "A sign-in method was added to your account", 1) // the new address hears of itself

	tests := []struct{ name, choice, to string }{
		{"text-to-mobile", ids["mobile"][0] + ":sms", mobile},
		{"call-to-office-phone", ids["office-phone"][0] + ":voice", office},
		{"email", ids["email"][0], addr},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jar, _ := cookiejar.New(nil)
			b := &http.Client{Jar: jar, Timeout: 30 * time.Second}
			resp, body := get(t, b, srv.base+"/recover")
			resp, body = submit(t, b, resp, body, "/recover", url.Values{"username": {devUsername}})
			resp, body = submit(t, b, resp, body, resp.Request.URL.Path, url.Values{"intent": {"reset"}})
			if !strings.Contains(body, `value="`+tc.choice+`"`) {
				t.Fatalf("the method page does not offer %s:\n%s", tc.choice, body)
			}
			resp, body = submit(t, b, resp, body, "/method", url.Values{"enrollment": {tc.choice}})
			if !strings.HasSuffix(resp.Request.URL.Path, "/verify") {
				t.Fatalf("choosing %s led to %s (%d):\n%s", tc.choice, resp.Request.URL, resp.StatusCode, body)
			}
			code := outboxCode(t, b, srv.base, tc.to)
			resp, body = submit(t, b, resp, body, "/verify", url.Values{"code": {code}})
			if !strings.HasSuffix(resp.Request.URL.Path, "/password") {
				t.Fatalf("the code sent to %s led to %s (%d):\n%s", tc.to, resp.Request.URL, resp.StatusCode, body)
			}
		})
	}
	cli("method", "remove", "--user", devUsername, "--id", ids["email"][0])
	mailed(addr, "A sign-in method was removed from your account", 1) // mailed before it went
	if strings.Contains(srv.stderr.String(), "panic") {
		t.Fatalf("server log mentions a panic:\n%s", srv.stderr.String())
	}
}
