package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// `latchkey policy show` prints the phone allowlist and the fraud-report
// block; `policy set` takes good values and refuses bad ones, naming each
// problem and changing nothing.
func TestPolicyCommands(t *testing.T) {
	clearLatchkeyEnv(t)
	dbtest.Each(t, func(t *testing.T, url string) {
		c := newCLI(t, url)
		show := func() policy.Policy {
			t.Helper()
			var p policy.Policy
			out := c.must("", "policy", "show")
			if err := json.Unmarshal([]byte(out), &p); err != nil {
				t.Fatalf("policy show: %v\n%s", err, out)
			}
			return p
		}
		out := c.must("", "policy", "show")
		for _, want := range []string{`"phone_countries": []`, `"push_report_block_minutes": 60`} {
			if !strings.Contains(out, want) {
				t.Fatalf("policy show lacks %s:\n%s", want, out)
			}
		}
		c.must("", "policy", "set", "phone_countries=de, US", "push_report_block_minutes=15")
		if p := show(); strings.Join(p.PhoneCountries, ",") != "DE,US" || p.PushReportBlockMinutes != 15 {
			t.Fatalf("after set: %+v", p)
		}
		for _, tt := range []struct {
			name string
			args []string
			want []string
		}{
			{"unknown-region", []string{"phone_countries=DE,XX"}, []string{`"XX" is not a region`}},
			{"not-a-code", []string{"phone_countries=Germany"}, []string{`"GERMANY" is not an upper-case two-letter`}},
			{"negative-block", []string{"push_report_block_minutes=-1"}, []string{"push_report_block_minutes must be 0"}},
			{"block-too-long", []string{"push_report_block_minutes=100000"}, []string{"(a week)"}},
			{"block-not-a-number", []string{"push_report_block_minutes=an hour"}, []string{`"an hour" is not a whole number`}},
			{"every-problem-at-once", []string{"phone_countries=ZZ,fr,FR", "push_report_block_minutes=99999"},
				[]string{`"ZZ"`, `"FR" listed twice`, "push_report_block_minutes"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := c.run("", append([]string{"policy", "set"}, tt.args...)...)
				if r.code != exitUsage {
					t.Fatalf("exit %d, want %d: %s%s", r.code, exitUsage, r.out, r.err)
				}
				for _, w := range tt.want {
					if !strings.Contains(r.err, w) {
						t.Errorf("stderr lacks %q:\n%s", w, r.err)
					}
				}
				if p := show(); strings.Join(p.PhoneCountries, ",") != "DE,US" || p.PushReportBlockMinutes != 15 {
					t.Fatalf("a refused set changed the policy: %+v", p)
				}
			})
		}
		c.must("", "policy", "set", "phone_countries=", "push_report_block_minutes=0")
		if p := show(); len(p.PhoneCountries) != 0 || p.PushReportBlockMinutes != 0 {
			t.Fatalf("after emptying: %+v", p)
		}
	})
}

// `latchkey policy questions` adds, edits, lists and removes custom
// questions through the admin API's calls: every problem named at once,
// each change audited.
func TestPolicyQuestionsCommands(t *testing.T) {
	clearLatchkeyEnv(t)
	dbtest.Each(t, func(t *testing.T, url string) {
		c := newCLI(t, url)
		var q method.Question
		out := c.must("", "policy", "questions", "add", "en=Where was our first office?", "de=Wo war unser erstes Büro?")
		if err := json.Unmarshal([]byte(out), &q); err != nil || q.Texts["de"] != "Wo war unser erstes Büro?" {
			t.Fatalf("add: %v\n%s", err, out)
		}
		r := c.run("", "policy", "questions", "add", "de=", "xx=Some question?", "en=What was the name of your first pet?")
		if r.code != exitUsage {
			t.Fatalf("refused add: exit %d %s%s", r.code, r.out, r.err)
		}
		for _, w := range []string{"texts.de: is empty", `texts.xx: unknown language "xx"`, "texts.en: repeats question b29"} {
			if !strings.Contains(r.err, w) {
				t.Errorf("stderr lacks %q:\n%s", w, r.err)
			}
		}
		c.must("", "policy", "questions", "edit", q.ID, "en=In which town was our first office?")
		if r := c.run("", "policy", "questions", "edit", "cnothere", "en=In which town was it?"); r.code != exitUsage {
			t.Fatalf("edit of an unknown question: exit %d", r.code)
		}
		var listed []method.Question
		if err := json.Unmarshal([]byte(c.must("", "policy", "questions", "list")), &listed); err != nil ||
			len(listed) != 1 || listed[0].Text != "In which town was our first office?" || listed[0].Texts["de"] != "" {
			t.Fatalf("list after edit: %+v %v", listed, err)
		}
		c.must("", "policy", "questions", "remove", q.ID)
		if strings.TrimSpace(c.must("", "policy", "questions", "list")) != "[]" {
			t.Fatal("still listed after remove")
		}
		for _, typ := range []string{"admin.question.add", "admin.question.edit", "admin.question.remove"} {
			if !strings.Contains(c.must("", "audit", "--type", typ), q.ID) {
				t.Errorf("%s not audited with %s", typ, q.ID)
			}
		}
	})
}
