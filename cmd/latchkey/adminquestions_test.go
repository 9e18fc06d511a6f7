package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/admin"
	"github.com/latchkeyid/latchkey/plugin/method/questions"
)

// The admin API's custom questions: added, edited and removed by an
// admin, every change audited with the admin's id and IP, every problem
// of the texts listed at once, on SQLite and MySQL.
func TestAdminAPIQuestions(t *testing.T) {
	eachAPI(t, func(t *testing.T, e *apiEnv) {
		tok := e.userToken(e.admin, []string{"pwd", "otp"}, time.Minute)
		base := admin.Prefix + "/policy/questions"
		texts := func(kv ...string) map[string]any {
			m := map[string]string{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i]] = kv[i+1]
			}
			return map[string]any{"translations": m}
		}
		r := e.call(http.MethodPost, base, tok, texts("en", "Where was our first office?", "de", "Wo war unser erstes Büro?"))
		var q admin.CustomQuestion
		r.json(t, &q)
		if r.status != 201 || q.ID == "" || q.Translations["de"] != "Wo war unser erstes Büro?" || r.header.Get("Location") != base+"/"+q.ID {
			t.Fatalf("add: %d %v %s", r.status, r.header, r.body)
		}
		if v, _ := e.etag(tok); len(v.CustomQuestions) != 1 || v.CustomQuestions[0].Translations["de"] != "Wo war unser erstes Büro?" {
			t.Fatalf("policy shows %+v", v.CustomQuestions)
		}

		t.Run("every-problem-at-once", func(t *testing.T) {
			tests := []struct {
				name   string
				method string
				body   any
				fields []string
			}{
				{"missing-default", http.MethodPost, texts("de", "Wie hieß Ihre erste Straße?"), []string{"translations.en"}},
				{"all-at-once", http.MethodPost, texts("en", strings.Repeat("x", questions.MaxQuestion+1), "de", " ", "xx", "Something here?", "fr", "What was the name of your first pet?"),
					[]string{"translations.de", "translations.en", "translations.xx"}},
				{"built-in-duplicate", http.MethodPost, texts("en", "What was the name of your first pet?"), []string{"translations.en"}},
				{"custom-duplicate", http.MethodPost, texts("en", "Another new question?", "de", "wo war unser ERSTES Büro?"), []string{"translations.de"}},
				{"edit-to-built-in", http.MethodPut, texts("en", "In what city was your first job?"), []string{"translations.en"}},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					path := base
					if tc.method == http.MethodPut {
						path += "/" + q.ID
					}
					r := e.call(tc.method, path, tok, tc.body)
					if r.status != 400 {
						t.Fatalf("status %d: %s", r.status, r.body)
					}
					var got []string
					for _, fe := range r.problem(t).Errors {
						got = append(got, fe.Field)
					}
					if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
						t.Fatalf("fields %v, want %v: %s", got, tc.fields, r.body)
					}
				})
			}
			if evs := e.s.AuditEvents(t, "admin.question.add"); len(evs) != 1+4 {
				t.Fatalf("%d add events, want 1 ok and 4 refused", len(evs))
			}
		})

		t.Run("edit", func(t *testing.T) {
			r := e.call(http.MethodPut, base+"/"+q.ID, tok, texts("en", "In which town was our first office?", "fr", "Dans quelle ville était notre premier bureau ?"))
			var got admin.CustomQuestion
			r.json(t, &got)
			if r.status != 200 || got.Text != "In which town was our first office?" || got.Translations["de"] != "" || got.Translations["fr"] == "" {
				t.Fatalf("edit: %d %s", r.status, r.body)
			}
			evs := e.s.AuditEvents(t, "admin.question.edit")
			if len(evs) != 1+1 || evs[0].UserID != e.admin.ID || evs[0].IP == "" || !strings.Contains(evs[0].Detail, "languages=en,fr") {
				t.Fatalf("audit %+v", evs)
			}
		})

		t.Run("remove", func(t *testing.T) {
			for _, id := range []string{q.ID, "cnotaquestion0000", "b01"} {
				want := 404
				if id == q.ID {
					want = 204
				}
				if r := e.call(http.MethodDelete, base+"/"+id, tok, nil); r.status != want {
					t.Fatalf("delete %s: %d %s", id, r.status, r.body)
				}
			}
			if r := e.call(http.MethodDelete, base+"/"+q.ID, tok, nil); r.status != 404 {
				t.Fatalf("second delete: %d", r.status)
			}
			evs := e.s.AuditEvents(t, "admin.question.remove")
			ok := 0
			for _, ev := range evs {
				if ev.Outcome == "ok" && ev.UserID == e.admin.ID && ev.IP != "" && strings.Contains(ev.Detail, q.ID) {
					ok++
				}
			}
			if ok != 1 || len(evs) != 4 {
				t.Fatalf("audit %+v", evs)
			}
			if v, _ := e.etag(tok); len(v.CustomQuestions) != 0 {
				t.Fatalf("still listed: %+v", v.CustomQuestions)
			}
		})
	})
}
