package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/latchkeyid/latchkey/plugin/admin"
	"github.com/latchkeyid/latchkey/plugin/method/questions"
	"github.com/latchkeyid/latchkey/plugin/policy"
	reports "github.com/latchkeyid/latchkey/plugin/report"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/user"
)

// The admin API's policy, audit log and report operations, on SQLite and
// MySQL, every response checked against the OpenAPI document.

const testRetentionDays = 90

func init() {
	// The export and the charts are text the validator reads as strings.
	openapi3filter.RegisterBodyDecoder(admin.MIMEJSONL, openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder(admin.MIMESVG, openapi3filter.PlainBodyDecoder)
}

// opsPaths are the operations of this file, for the authorization table.
var opsPaths = []struct{ method, path string }{
	{http.MethodGet, "/policy"}, {http.MethodPatch, "/policy"}, {http.MethodGet, "/audit/events"},
	{http.MethodGet, "/audit/export?format=csv"}, {http.MethodGet, "/audit/settings"}, {http.MethodGet, "/reports"},
	{http.MethodGet, "/reports/coverage"}, {http.MethodGet, "/reports/funnel?format=svg"},
	{http.MethodPost, "/policy/questions"}, {http.MethodPut, "/policy/questions/c0123456789abcdef"},
	{http.MethodDelete, "/policy/questions/c0123456789abcdef"},
}

// A normal user's token, a client without the scope, an expired token and
// no token are refused on every operation, and nothing changes.
func TestAdminAPIOpsAuthorization(t *testing.T) {
	eachAPI(t, func(t *testing.T, e *apiEnv) {
		fresh2 := []string{"pwd", "otp"}
		expired := e.clientToken(opsClient, opsSecret, admin.Scope)
		expiredAdmin := e.userToken(e.admin, fresh2, 0)
		e.s.Clock.Advance(opstore.DefaultAccessTTL + time.Minute)
		tokens := []struct {
			name, token string
			status      int
		}{
			{"no-token", "", 401},
			{"normal-user", e.userToken(e.s.User, fresh2, time.Minute), 403},
			{"client-without-admin-scope", e.clientToken(opsClient, opsSecret, ""), 403},
			{"expired-client", expired, 401},
			{"expired-admin", expiredAdmin, 401},
		}
		for _, tk := range tokens {
			for _, op := range opsPaths {
				t.Run(tk.name+op.method+op.path, func(t *testing.T) {
					var body any
					hdr := []string{}
					switch op.method {
					case http.MethodPatch:
						body, hdr = map[string]any{"required": 2}, []string{"If-Match", "*"}
					case http.MethodPost, http.MethodPut:
						body = map[string]any{"translations": map[string]string{"en": "Where did we first meet?"}}
					}
					r := e.call(op.method, admin.Prefix+op.path, tk.token, body, hdr...)
					if r.status != tk.status || r.header.Get("WWW-Authenticate") == "" {
						t.Fatalf("status %d, want %d: %s", r.status, tk.status, r.body)
					}
					r.problem(t)
				})
			}
		}
		p, err := e.policies().Get(t.Context())
		if err != nil || p.Required != 1 {
			t.Fatalf("a refused change changed the policy: %+v %v", p, err)
		}
		for _, typ := range []string{"admin.policy.set", "admin.audit.export", "admin.audit.read", "admin.report.read", "admin.question.add", "admin.question.edit", "admin.question.remove"} {
			if evs := e.s.AuditEvents(t, typ); len(evs) != 0 {
				t.Fatalf("a refused request left %s records: %+v", typ, evs)
			}
		}
	})
}

// policies is the store the server reads, with serve's defaults.
func (e *apiEnv) policies() *policy.Store { return e.app.policyStore(e.s.DB) }

// etag reads the policy's ETag.
func (e *apiEnv) etag(tok string) (admin.PolicyView, string) {
	e.t.Helper()
	r := e.call(http.MethodGet, admin.Prefix+"/policy", tok, nil)
	if r.status != 200 || r.header.Get("ETag") == "" {
		e.t.Fatalf("get policy: %d %v %s", r.status, r.header, r.body)
	}
	var v admin.PolicyView
	r.json(e.t, &v)
	return v, r.header.Get("ETag")
}

func TestAdminAPIPolicy(t *testing.T) {
	eachAPI(t, func(t *testing.T, e *apiEnv) {
		ctx := t.Context()
		tok := e.clientToken(opsClient, opsSecret, admin.Scope)
		p := admin.Prefix + "/policy"
		if _, err := questions.New(e.s.DB, nil, e.s.Keyring, nil).AddCustom(ctx, map[string]string{"en": "What was the name of our first office?"}); err != nil {
			t.Fatal(err)
		}
		t.Run("get", func(t *testing.T) {
			v, tag := e.etag(tok)
			want, err := e.policies().Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(v.Methods, want.Methods) || v.Required != want.Required || v.Scope != policy.ScopeAll ||
				v.RegisterAtSignIn != want.RegisterAtSignIn || v.CoolDownHours != 24 || !strings.HasPrefix(tag, `"`) {
				t.Fatalf("policy %+v (etag %s), want the stored one %+v", v.Policy, tag, want)
			}
			sw := map[string]admin.MethodSwitch{}
			for _, s := range v.MethodSwitches {
				sw[s.Method] = s
			}
			if len(sw) != len(policy.Known) || !sw["email"].Available || !sw["email"].Enabled || sw["mobile"].Available || sw["mobile"].Enabled || !sw["questions"].Available || sw["questions"].Enabled {
				t.Fatalf("method switches %+v", v.MethodSwitches)
			}
			if len(v.CustomQuestions) != 1 || v.CustomQuestions[0].Translations["en"] != "What was the name of our first office?" {
				t.Fatalf("custom questions %+v", v.CustomQuestions)
			}
		})
		t.Run("change-is-stored-and-audited", func(t *testing.T) {
			before, tag := e.etag(tok)
			was, _ := json.Marshal(before.Methods)
			adminTok := e.userToken(e.admin, []string{"pwd", "otp"}, time.Minute)
			r := e.call(http.MethodPatch, p, adminTok, map[string]any{"required": 2, "methods": []string{"email", "totp", "questions"},
				"helpdesk_url": "https://help.example.com/", "phone_countries": []string{"DE", "FR"}}, "If-Match", tag)
			var v admin.PolicyView
			r.json(t, &v)
			if r.status != 200 || v.Required != 2 || r.header.Get("ETag") == tag || r.header.Get("ETag") == "" {
				t.Fatalf("patch: %d %v %s", r.status, r.header, r.body)
			}
			stored, err := e.policies().Get(ctx)
			if err != nil || stored.Required != 2 || !slices.Equal(stored.Methods, []string{"email", "totp", "questions"}) ||
				stored.HelpdeskURL != "https://help.example.com/" || stored.CoolDownHours != 24 {
				t.Fatalf("stored %+v %v", stored, err)
			}
			evs := e.s.AuditEvents(t, "admin.policy.set")
			if len(evs) != 1 || evs[0].UserID != e.admin.ID || evs[0].IP == "" || evs[0].Outcome != "ok" {
				t.Fatalf("audit %+v", evs)
			}
			for _, want := range []string{"required: 1 → 2", "methods: " + string(was) + ` → ["email","totp","questions"]`,
				`helpdesk_url: "" → "https://help.example.com/"`, `phone_countries: [] → ["DE","FR"]`} {
				if !strings.Contains(evs[0].Detail, want) {
					t.Errorf("detail %q lacks %q", evs[0].Detail, want)
				}
			}
			if strings.Contains(evs[0].Detail, "cooldown_hours") {
				t.Errorf("detail %q names a setting that did not change", evs[0].Detail)
			}
		})
		t.Run("every-problem-at-once", func(t *testing.T) {
			v, tag := e.etag(tok)
			r := e.call(http.MethodPatch, p, tok, map[string]any{"required": 3, "max_skips": -1, "phone_countries": []string{"XX"},
				"scope": "some", "nonsense": 1, "notify_user": "yes", "method_switches": []any{}, "group": nil,
				"helpdesk_url": "javascript:alert(1)"}, "If-Match", tag)
			wantFields(t, r, "required", "max_skips", "phone_countries", "scope", "nonsense", "notify_user", "method_switches", "group", "helpdesk_url")
			wantFields(t, e.call(http.MethodPatch, p, tok, map[string]any{"methods": []string{"mobile", "email"}}, "If-Match", tag), "methods")
			wantFields(t, e.call(http.MethodPatch, p, tok, map[string]any{"methods": []string{"questions"}, "questions_ask": 9}, "If-Match", tag), "methods", "questions_ask")
			wantFields(t, e.call(http.MethodPatch, p, tok, map[string]any{}, "If-Match", tag), "")
			wantFields(t, e.call(http.MethodPatch, p, tok, map[string]any{"required": 2}, "If-Match", "not-quoted"), "If-Match")
			if r := e.call(http.MethodPatch, p, tok, `{"required": 2`, "If-Match", tag); r.status != 400 {
				t.Fatalf("broken JSON: %d", r.status)
			}
			after, tag2 := e.etag(tok)
			if tag2 != tag || after.Required != v.Required || !slices.Equal(after.Methods, v.Methods) {
				t.Fatalf("a refused change changed the policy: %s → %s", tag, tag2)
			}
			failed := 0
			for _, ev := range e.s.AuditEvents(t, "admin.policy.set") {
				if ev.Outcome == "failed" && ev.UserID == "client:"+opsClient {
					failed++
				}
			}
			if failed < 3 {
				t.Fatalf("%d refused changes audited", failed)
			}
		})
		t.Run("if-match", func(t *testing.T) {
			if r := e.call(http.MethodPatch, p, tok, map[string]any{"max_skips": 4}); r.status != http.StatusPreconditionRequired {
				t.Fatalf("without If-Match: %d %s", r.status, r.body)
			} else {
				r.problem(t)
			}
			// Two admins read the same version; the second write is refused.
			_, tag := e.etag(tok)
			first := e.call(http.MethodPatch, p, tok, map[string]any{"max_skips": 4}, "If-Match", tag)
			second := e.call(http.MethodPatch, p, tok, map[string]any{"reconfirm_days": 30}, "If-Match", tag)
			if first.status != 200 || second.status != http.StatusPreconditionFailed {
				t.Fatalf("two writers: %d %d %s", first.status, second.status, second.body)
			}
			second.problem(t)
			if second.header.Get("ETag") != first.header.Get("ETag") {
				t.Fatalf("412 names version %s, the stored one is %s", second.header.Get("ETag"), first.header.Get("ETag"))
			}
			if got, _ := e.policies().Get(ctx); got.MaxSkips != 4 || got.ReconfirmDays != 0 {
				t.Fatalf("after the conflict: %+v", got)
			}
			// "*" is whatever is stored now.
			if r := e.call(http.MethodPatch, p, tok, map[string]any{"reconfirm_days": 30}, "If-Match", "*"); r.status != 200 {
				t.Fatalf("If-Match *: %d %s", r.status, r.body)
			}
		})
		t.Run("parallel-writers", func(t *testing.T) {
			_, tag := e.etag(tok)
			const n = 6
			statuses := e.parallel(n, http.MethodPatch, p, tok, func(i int) any { return map[string]any{"cooldown_hours": 10 + i} }, "If-Match", tag)
			won := -1
			for i, s := range statuses {
				switch {
				case s == 200 && won < 0:
					won = i
				case s != http.StatusPreconditionFailed:
					t.Fatalf("statuses %v: exactly one 200, the rest 412", statuses)
				}
			}
			if got, _ := e.policies().Get(ctx); won < 0 || got.CoolDownHours != 10+won {
				t.Fatalf("statuses %v, stored cool-down %d", statuses, got.CoolDownHours)
			}
		})
	})
}

// auditSeed writes events of two users, two types, inside and outside a
// range, with values a spreadsheet or a CSV parser could trip on.
func auditSeed(t *testing.T, e *apiEnv) (day time.Time, events []audit.Event) {
	t.Helper()
	day = time.Date(2026, 2, 10, 12, 0, 0, 0, time.UTC)
	for i, ev := range []struct {
		user, typ, outcome string
		at                 time.Duration
	}{
		{"u-ann", audit.SignIn, audit.OK, 0}, {"u-ann", audit.SignInFailed, audit.Fail, time.Hour},
		{"u-bob", audit.SignIn, audit.OK, 2 * time.Hour}, {"u-bob", audit.SignInFailed, audit.Fail, 3 * time.Hour},
		{"u-ann", audit.SignIn, audit.OK, -48 * time.Hour}, {"u-ann", audit.SignInFailed, audit.Fail, 48 * time.Hour},
		{"u-ann", audit.Lockout, audit.Blocked, 4 * time.Hour},
	} {
		events = append(events, audit.Event{Time: day.Add(ev.at), Type: ev.typ, UserID: ev.user, Outcome: ev.outcome,
			IP: "192.0.2.7", FlowID: fmt.Sprintf("F%d", i), UserAgent: `=HYPERLINK("http://evil.example","x"), "quoted"`,
			Detail: "'already quoted', -minus; ünïcode, tab\tgone"})
	}
	for _, ev := range events {
		if err := e.s.Audit.Record(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	// Read them back as stored (ids, cleaned fields).
	stored, err := e.s.Audit.List(t.Context(), audit.Filter{TypePrefix: "", Since: day.Add(-72 * time.Hour), Until: day.Add(72 * time.Hour), Limit: 100})
	if err != nil || len(stored) != len(events) {
		t.Fatalf("seeded %d events, read %d: %v", len(events), len(stored), err)
	}
	return day, stored
}

func pick(events []audit.Event, keep func(audit.Event) bool) []audit.Event {
	var out []audit.Event
	for _, e := range events {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

func ids(events []audit.Event) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

func TestAdminAPIAuditLog(t *testing.T) {
	eachAPI(t, func(t *testing.T, e *apiEnv) {
		tok := e.clientToken(opsClient, opsSecret, admin.Scope)
		day, seeded := auditSeed(t, e)
		rfc := func(t time.Time) string { return url.QueryEscape(t.Format(time.RFC3339)) }
		list := func(t *testing.T, query string) []audit.Event {
			t.Helper()
			var out []audit.Event
			cursor := ""
			for pages := 0; ; pages++ {
				q := query + "&limit=2"
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				r := e.call(http.MethodGet, admin.Prefix+"/audit/events?"+q, tok, nil)
				var page admin.Page[audit.Event]
				r.json(t, &page)
				if r.status != 200 || len(page.Items) > 2 || pages > 10 {
					t.Fatalf("list %s: %d %s", q, r.status, r.body)
				}
				out = append(out, page.Items...)
				if page.NextCursor == "" {
					return out
				}
				cursor = page.NextCursor
			}
		}
		inRange := func(ev audit.Event) bool { return !ev.Time.Before(day) && ev.Time.Before(day.Add(24*time.Hour)) }
		for _, tc := range []struct {
			name, query string
			keep        func(audit.Event) bool
		}{
			{"one-user", "user=u-ann", func(ev audit.Event) bool { return ev.UserID == "u-ann" }},
			{"user-and-type", "user=u-ann&type=signin.failed", func(ev audit.Event) bool { return ev.UserID == "u-ann" && ev.Type == audit.SignInFailed }},
			{"type-prefix", "user=u-bob&type=signin*", func(ev audit.Event) bool { return ev.UserID == "u-bob" }},
			{"outcome", "user=u-ann&outcome=blocked", func(ev audit.Event) bool { return ev.UserID == "u-ann" && ev.Outcome == audit.Blocked }},
			{"range", "since=" + rfc(day) + "&until=" + rfc(day.Add(24*time.Hour)), inRange},
			{"range-as-dates", "type=signin&since=2026-02-10&until=2026-02-11", func(ev audit.Event) bool { return inRange(ev) && ev.Type == audit.SignIn }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, want := list(t, tc.query), pick(seeded, tc.keep)
				if len(want) == 0 || len(want) == len(seeded) {
					t.Fatalf("the case %s does not filter", tc.name)
				}
				if !slices.Equal(ids(got), ids(want)) {
					t.Fatalf("%s: got %v, want %v", tc.query, ids(got), ids(want))
				}
				if tc.name == "one-user" && !equalEvents(got, want) {
					t.Fatalf("listed events differ from the stored ones:\n%+v\n%+v", got, want)
				}
			})
		}
		t.Run("prefix-is-literal", func(t *testing.T) {
			// "_" is a LIKE wildcard; in a prefix it is a plain character.
			if got := list(t, "type=sign_n*"); len(got) != 0 {
				t.Fatalf("sign_n* matched %v", ids(got))
			}
			want := pick(seeded, func(ev audit.Event) bool { return ev.UserID == "u-ann" && ev.Type == audit.SignInFailed })
			if got := list(t, "user=u-ann&type=signin.*"); !slices.Equal(ids(got), ids(want)) {
				t.Fatalf("signin.* matched %v, want %v", ids(got), ids(want))
			}
		})
		t.Run("bad-filters", func(t *testing.T) {
			wantFields(t, e.call(http.MethodGet, admin.Prefix+"/audit/events?type=Sign%20In&since=yesterday&until=soon&limit=0&outcome=%21%21&colour=red", tok, nil),
				"type", "since", "until", "limit", "outcome", "colour")
			wantFields(t, e.call(http.MethodGet, admin.Prefix+"/audit/events?since=2026-02-11&until=2026-02-10&type=a*b", tok, nil), "until", "type")
			wantFields(t, e.call(http.MethodGet, admin.Prefix+"/audit/events?cursor=nonsense", tok, nil), "cursor")
			wantFields(t, e.call(http.MethodGet, admin.Prefix+"/audit/events?user=u-ann&user=u-bob", tok, nil), "user")
			wantFields(t, e.call(http.MethodGet, admin.Prefix+"/audit/export?format=pdf&type=%25&limit=5", tok, nil), "format", "type", "limit")
			wantFields(t, e.call(http.MethodGet, admin.Prefix+"/audit/export", tok, nil), "format")
		})
		t.Run("export-round-trip", func(t *testing.T) {
			for _, tc := range []struct {
				format, query, accept, mime string
			}{
				{audit.CSV, "format=csv&user=u-ann", "", "text/csv; charset=utf-8"},
				{audit.JSONL, "user=u-ann", "application/jsonl", admin.MIMEJSONL},
				{audit.CSV, "user=u-ann", "text/csv", "text/csv; charset=utf-8"},
			} {
				r := e.call(http.MethodGet, admin.Prefix+"/audit/export?"+tc.query, tok, nil, "Accept", tc.accept)
				if r.status != 200 || r.header.Get("Content-Type") != tc.mime || !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment; filename=") {
					t.Fatalf("export %s: %d %v %s", tc.query, r.status, r.header, r.body)
				}
				got, err := audit.ReadExport(bytes.NewReader(r.body), tc.format)
				if err != nil {
					t.Fatalf("read back %s: %v\n%s", tc.format, err, r.body)
				}
				if want := pick(seeded, func(ev audit.Event) bool { return ev.UserID == "u-ann" }); !equalEvents(got, want) {
					t.Fatalf("%s export differs from the events written:\n%+v\n%+v", tc.format, got, want)
				}
				if tc.format == audit.CSV && !bytes.Contains(r.body, []byte(`'=HYPERLINK`)) {
					t.Fatalf("a formula is not defused:\n%s", r.body)
				}
			}
			exports := e.s.AuditEvents(t, "admin.audit.export")
			if len(exports) != 3 || exports[0].UserID != "client:"+opsClient || exports[0].IP == "" ||
				!strings.Contains(exports[0].Detail, "format=csv events=5 user=\"u-ann\"") {
				t.Fatalf("export records %+v", exports)
			}
			if reads := e.s.AuditEvents(t, "admin.audit.read"); len(reads) == 0 || reads[0].UserID != "client:"+opsClient {
				t.Fatalf("list records %+v", reads)
			}
		})
		t.Run("export-streams-every-page", func(t *testing.T) {
			// More events than one keyset page of the export.
			const n = 2500
			rows := make([]audit.Event, n)
			for i := range rows {
				rows[i] = audit.Event{Time: day.Add(time.Duration(i) * time.Second), Type: "bulk.test", UserID: "u-bulk", Outcome: audit.OK,
					IP: "", UserAgent: "", FlowID: "", Detail: fmt.Sprint(i)}
			}
			if err := e.s.DB.CreateInBatches(rows, 500).Error; err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.s.URL+admin.Prefix+"/audit/export?format=jsonl&type=bulk.test", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := e.s.HTTP.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			got, err := audit.ReadExport(res.Body, audit.JSONL)
			// Streamed: no Content-Length, the body written as it is read.
			if err != nil || res.StatusCode != 200 || res.ContentLength != -1 || len(got) != n || got[0].Detail != fmt.Sprint(n-1) || got[n-1].Detail != "0" {
				t.Fatalf("bulk export: %d length %d, %d events, %v", res.StatusCode, res.ContentLength, len(got), err)
			}
		})
		t.Run("retention", func(t *testing.T) {
			r := e.call(http.MethodGet, admin.Prefix+"/audit/settings", tok, nil)
			var s admin.AuditSettings
			r.json(t, &s)
			if r.status != 200 || s.RetentionDays != testRetentionDays || s.Setting != "LATCHKEY_AUDIT_RETENTION_DAYS" {
				t.Fatalf("settings: %d %s", r.status, r.body)
			}
		})
	})
}

func equalEvents(a, b []audit.Event) bool {
	return slices.EqualFunc(a, b, func(x, y audit.Event) bool {
		x.Time, y.Time = x.Time.UTC(), y.Time.UTC()
		return x == y
	})
}

// svgText checks body is an SVG document with a title and a description
// and returns the title.
func svgText(t *testing.T, body []byte) string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(body))
	var root, title, desc string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v\n%s", err, body)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root == "" {
			root = se.Name.Local
		}
		var s string
		switch {
		case se.Name.Local == "title" && title == "":
			_ = dec.DecodeElement(&s, &se)
			title = s
		case se.Name.Local == "desc" && desc == "":
			_ = dec.DecodeElement(&s, &se)
			desc = s
		}
	}
	if root != "svg" || strings.TrimSpace(title) == "" || strings.TrimSpace(desc) == "" {
		t.Fatalf("svg root %q title %q desc %q", root, title, desc)
	}
	return title
}

// reportSeed gives the server users, methods, a lock, a fraud report and
// the audit events of recoveries and phone sends in March 2026.
func reportSeed(t *testing.T, e *apiEnv) (registered, unregistered []string) {
	t.Helper()
	ctx := t.Context()
	g := e.s.DB
	mk := func(name string) *user.User {
		u, err := e.s.Users.Create(ctx, user.NewUser{Username: name, Email: name + "@example.com", Password: "a long enough passphrase 1"})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	ann, bob, cat, dan := mk("ann"), mk("bob"), mk("cat"), mk("dan")
	at := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for i, m := range []struct {
		u      *user.User
		method string
	}{{ann, "email"}, {ann, "mobile"}, {bob, "email"}, {cat, "totp"}} {
		row := map[string]any{"id": fmt.Sprintf("m%d", i), "user_id": m.u.ID, "method": m.method, "label": m.method,
			"destination_key": fmt.Sprint(i), "counter": 0, "created_at": at, "usable_at": at, "verified_at": at}
		if err := g.Table("sspr_methods").Create(row).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Model(&user.User{}).Where("id = ?", dan.ID).Update("locked_until", e.s.Clock.Now().Add(time.Hour)).Error; err != nil {
		t.Fatal(err)
	}
	reported := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	if err := g.Table("sspr_user_state").Create(map[string]any{"user_id": cat.ID, "skips": 0, "updated_at": reported, "had_methods": true,
		"first_session_id": "", "reported_at": reported}).Error; err != nil {
		t.Fatal(err)
	}
	phone := func(cc string) string {
		b, _ := json.Marshal(map[string]string{"method": "mobile", "channel": "sms", "cc": cc, "to": "+" + cc + " •••• 12"})
		return string(b)
	}
	day := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, ev := range []audit.Event{
		{Time: day, Type: audit.CaptchaFailed, UserID: "unknown", Outcome: audit.Fail},
		{Time: day.Add(time.Minute), Type: audit.RecoveryStart, UserID: ann.ID, FlowID: "F1", Outcome: audit.OK, Detail: "real"},
		{Time: day.Add(2 * time.Minute), Type: audit.CodeSent, UserID: ann.ID, FlowID: "F1", Outcome: audit.OK},
		{Time: day.Add(3 * time.Minute), Type: audit.MethodVerified, UserID: ann.ID, FlowID: "F1", Outcome: audit.OK},
		{Time: day.Add(4 * time.Minute), Type: audit.PasswordReset, UserID: ann.ID, FlowID: "F1", Outcome: audit.OK},
		{Time: day.Add(5 * time.Minute), Type: audit.RecoveryStart, UserID: bob.ID, FlowID: "F2", Outcome: audit.OK, Detail: "real"},
		{Time: day, Type: audit.Lockout, UserID: dan.ID, Outcome: audit.Blocked},
		{Time: day.Add(24 * time.Hour), Type: audit.Lockout, UserID: "unknown", Outcome: audit.Blocked},
		{Time: reported, Type: audit.FraudReported, UserID: cat.ID, Outcome: audit.OK},
		{Time: day, Type: "phone.send", UserID: ann.ID, Outcome: audit.OK, Detail: phone("44")},
		{Time: day, Type: "phone.send", UserID: ann.ID, Outcome: audit.Blocked, Detail: phone("44")},
		{Time: day, Type: "phone.send", UserID: ann.ID, Outcome: audit.Fail, Detail: phone("1")},
		{Time: day.AddDate(0, 0, 10), Type: "phone.send", UserID: ann.ID, Outcome: audit.OK, Detail: phone("44")}, // outside
	} {
		if err := e.s.Audit.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	all, err := e.s.Users.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range all {
		if u.Disabled {
			continue
		}
		if u.ID == ann.ID || u.ID == bob.ID || u.ID == cat.ID {
			registered = append(registered, u.ID)
		} else {
			unregistered = append(unregistered, u.ID)
		}
	}
	slices.Sort(unregistered)
	return registered, unregistered
}

func TestAdminAPIReports(t *testing.T) {
	eachAPI(t, func(t *testing.T, e *apiEnv) {
		tok := e.clientToken(opsClient, opsSecret, admin.Scope)
		registered, unregistered := reportSeed(t, e)
		period := "since=2026-03-01&until=2026-03-04"
		get := func(name, query string, v any) admin.ReportAnswer {
			t.Helper()
			r := e.call(http.MethodGet, admin.Prefix+"/reports/"+name+"?"+query, tok, nil)
			var out struct {
				admin.ReportAnswer
				Data json.RawMessage `json:"data"`
			}
			r.json(t, &out)
			if r.status != 200 || out.Name != name {
				t.Fatalf("report %s: %d %s", name, r.status, r.body)
			}
			if err := json.Unmarshal(out.Data, v); err != nil {
				t.Fatalf("report %s data: %v", name, err)
			}
			return out.ReportAnswer
		}
		t.Run("list", func(t *testing.T) {
			r := e.call(http.MethodGet, admin.Prefix+"/reports", tok, nil)
			var page admin.Page[admin.ReportInfo]
			r.json(t, &page)
			if r.status != 200 || len(page.Items) != len(reports.Names) {
				t.Fatalf("reports: %d %s", r.status, r.body)
			}
		})
		t.Run("registrations", func(t *testing.T) {
			var rows []reports.MethodCount
			ans := get("registrations", period, &rows)
			want := []reports.MethodCount{{Method: "email", Users: 2, Total: 2, Added: 2}, {Method: "mobile", Users: 1, Total: 1, Added: 1}, {Method: "totp", Users: 1, Total: 1, Added: 1}}
			if !slices.Equal(rows, want) || ans.Since == nil || !ans.Since.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("registrations %+v (since %v), want %+v", rows, ans.Since, want)
			}
		})
		t.Run("coverage", func(t *testing.T) {
			var c reports.Coverage
			if ans := get("coverage", "", &c); ans.Since != nil || ans.Ranged {
				t.Fatalf("coverage is a snapshot, got a range %+v", ans)
			}
			if want := (reports.Coverage{Users: int64(len(registered) + len(unregistered)), Registered: 3, Unregistered: int64(len(unregistered))}); c != want {
				t.Fatalf("coverage %+v, want %+v", c, want)
			}
		})
		t.Run("unregistered-pages", func(t *testing.T) {
			var got []string
			cursor := ""
			for range len(unregistered) + 1 {
				q := "limit=1"
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				var p reports.People
				ans := get("unregistered", q, &p)
				if len(p.People) != 1 || p.Next != "" {
					t.Fatalf("page %+v", p)
				}
				got = append(got, p.People[0].ID)
				if cursor = ans.NextCursor; cursor == "" {
					break
				}
			}
			if !slices.Equal(got, unregistered) {
				t.Fatalf("unregistered %v, want %v", got, unregistered)
			}
			wantFields(t, e.call(http.MethodGet, admin.Prefix+"/reports/unregistered?cursor=zz&limit=0", tok, nil), "cursor", "limit")
		})
		t.Run("recoveries", func(t *testing.T) {
			var ds []reports.RecoveryDay
			get("recoveries", period, &ds)
			if len(ds) != 3 || ds[1].Started != 2 || ds[1].Resets != 1 || ds[1].SuccessRate != 0.5 || ds[0].Started != 0 || ds[2].Started != 0 {
				t.Fatalf("recoveries %+v", ds)
			}
		})
		t.Run("funnel", func(t *testing.T) {
			var steps []reports.FunnelStep
			get("funnel", period, &steps)
			want := []reports.FunnelStep{{Stage: "started", Reached: 3, Stopped: 1}, {Stage: "captcha_passed", Reached: 2, Stopped: 1},
				{Stage: "method_chosen", Reached: 1, Stopped: 0}, {Stage: "code_verified", Reached: 1, Stopped: 0}, {Stage: "completed", Reached: 1, Stopped: 0}}
			if !slices.Equal(steps, want) {
				t.Fatalf("funnel %+v, want %+v", steps, want)
			}
		})
		t.Run("locked", func(t *testing.T) {
			var lk reports.Locked
			get("locked", period, &lk)
			if lk.Now != 1 || len(lk.Accounts) != 1 || lk.Accounts[0].Username != "dan" || len(lk.PerDay) != 3 || lk.PerDay[1].Count != 1 || lk.PerDay[2].Count != 1 {
				t.Fatalf("locked %+v", lk)
			}
		})
		t.Run("fraud", func(t *testing.T) {
			var f reports.Fraud
			get("fraud", period, &f)
			if f.Open != 1 || len(f.Accounts) != 1 || f.Accounts[0].Username != "cat" || f.PerDay[1].Count != 1 || f.PerDay[0].Count+f.PerDay[2].Count != 0 {
				t.Fatalf("fraud %+v", f)
			}
		})
		t.Run("phone", func(t *testing.T) {
			var rows []reports.CountrySends
			get("phone", period, &rows)
			want := []reports.CountrySends{{CallingCode: "44", Region: "GB", Shared: true, Sent: 1, Blocked: 1}, {CallingCode: "1", Region: "US", Shared: true, Failed: 1}}
			if !slices.Equal(rows, want) {
				t.Fatalf("phone %+v, want %+v", rows, want)
			}
		})
		t.Run("svg", func(t *testing.T) {
			for i, name := range reports.Names {
				q, hdr := "?format=svg&"+period, []string{}
				if i%2 == 1 {
					q, hdr = "?"+period, []string{"Accept", "image/svg+xml"}
				}
				if name == "coverage" || name == "unregistered" {
					q = strings.TrimSuffix(strings.Replace(q, period, "", 1), "&")
				}
				r := e.call(http.MethodGet, admin.Prefix+"/reports/"+name+q, tok, nil, hdr...)
				if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), admin.MIMESVG) {
					t.Fatalf("%s svg: %d %v %s", name, r.status, r.header, r.body)
				}
				svgText(t, r.body)
			}
			r := e.call(http.MethodGet, admin.Prefix+"/reports/recoveries?format=svg&lang=fr&"+period, tok, nil)
			if title := svgText(t, r.body); title != "Récupérations en libre-service par jour" {
				t.Fatalf("French title %q", title)
			}
		})
		t.Run("bad-queries", func(t *testing.T) {
			wantFields(t, e.call(http.MethodGet, admin.Prefix+"/reports/funnel?since=yesterday&until=soon&format=pdf&lang=xx&limit=5", tok, nil),
				"since", "until", "format", "lang", "limit")
			wantFields(t, e.call(http.MethodGet, admin.Prefix+"/reports/funnel?since=2026-03-04&until=2026-03-01", tok, nil), "range")
			wantFields(t, e.call(http.MethodGet, admin.Prefix+"/reports/coverage?since=2026-03-01&limit=3", tok, nil), "since", "limit")
			if r := e.call(http.MethodGet, admin.Prefix+"/reports/nonsense", tok, nil); r.status != 404 {
				t.Fatalf("unknown report: %d", r.status)
			} else {
				r.problem(t)
			}
		})
		t.Run("reads-audited", func(t *testing.T) {
			n := 0
			for _, ev := range e.s.AuditEvents(t, "admin.report.read") {
				if ev.UserID == "client:"+opsClient && ev.IP != "" && strings.HasPrefix(ev.Detail, "report=") {
					n++
				}
			}
			if n < len(reports.Names)*2 {
				t.Fatalf("%d report reads audited", n)
			}
		})
	})
}
