package questions_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/methodtest"
	"github.com/latchkeyid/latchkey/plugin/method/questions"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// Cheap argon2id parameters keep the tests fast; the cost is not under test.
var hasher = password.NewHasher(password.Params{Memory: 1024, Time: 1, Threads: 1})

type fixture struct {
	m     *questions.Method
	store *method.Store
	clk   *methodtest.Clock
}

func setup(t *testing.T, g *gorm.DB, register, ask int) fixture {
	keys, _ := secret.Parse(secret.Generate())
	clk := methodtest.NewClock()
	counts := func(context.Context) (int, int, error) { return register, ask, nil }
	return fixture{m: questions.New(g, hasher, keys, counts, questions.WithClock(clk.Now)), store: method.NewStore(g, method.WithStoreClock(clk.Now)), clk: clk}
}

var answers = map[string]string{"b01": "Springfield", "b12": "Blue  Sky", "b29": "Mr Whiskers", "b05": "Shelbyville", "b24": "Evergreen Elementary"}

func input(ids ...string) method.Input {
	in := method.Input{}
	for i, id := range ids {
		in[questions.FieldQuestion(i)] = id
		in[questions.FieldAnswer(i)] = answers[id]
	}
	return in
}

func answer(c method.Challenge, transform func(string) string) method.Input {
	in := method.Input{}
	for i, q := range c.Prompt.Questions {
		in[questions.FieldAnswer(i)] = transform(answers[q.ID])
	}
	return in
}

func same(s string) string { return s }

func TestPool(t *testing.T) {
	if len(questions.Pool) < 35 {
		t.Fatalf("pool has %d questions, want >= 35", len(questions.Pool))
	}
	ids, texts := map[string]bool{}, map[string]bool{}
	for _, q := range questions.Pool {
		if ids[q.ID] || texts[q.Text] || !strings.HasSuffix(q.Text, "?") {
			t.Fatalf("duplicate or malformed question %+v", q)
		}
		ids[q.ID], texts[q.Text] = true, true
	}
}

func TestBehaviour(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, 3, 2)
		methodtest.Run(t, methodtest.Harness{
			Method: f.m, Store: f.store, User: method.Ref{ID: "user-1", Username: "alice", Email: "alice@example.com"},
			Register: input("b01", "b12", "b29"),
			Right:    func(t *testing.T, _ method.Enrollment, c method.Challenge) method.Input { return answer(c, same) },
			Wrong: func(t *testing.T, c method.Challenge) method.Input {
				return answer(c, func(s string) string { return s + "x" })
			},
			Advance: f.clk.Advance, Expiry: method.CodeTTL, Reusable: true,
		})
	})
}

func TestNormalisation(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, 3, 3)
		u := method.Ref{ID: "u-norm", Username: "bob"}
		e := methodtest.Register(t, methodtest.Harness{Method: f.m, Store: f.store, User: u, Register: input("b01", "b12", "b29")})
		tests := []struct {
			name string
			tf   func(string) string
			ok   bool
		}{
			{"exact", same, true},
			{"case-differs", strings.ToUpper, true},
			{"surrounding-space", func(s string) string { return "  " + s + "\t" }, true},
			{"fullwidth-nfkc", func(s string) string { return strings.ReplaceAll(s, "S", "Ｓ") }, true},
			{"internal-spacing-differs", func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "  ", " "), " ", "  ") }, false},
			{"spelling-differs", func(s string) string { return s[:len(s)-1] }, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c, err := f.m.Challenge(t.Context(), "flow", u, e)
				if err != nil {
					t.Fatal(err)
				}
				res, err := f.m.Verify(t.Context(), "flow", u, e, c, answer(c, tt.tf))
				if err != nil || res.OK != tt.ok {
					t.Fatalf("Verify = %+v, %v; want ok=%v", res, err, tt.ok)
				}
			})
		}
	})
}

func TestRegistrationRules(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, 3, 2)
		u := method.Ref{ID: "u-rules", Username: "carol", Email: "carol@example.com",
			IsPassword: func(_ context.Context, s string) (bool, error) { return s == "correct horse", nil }}
		base := func(mod func(method.Input)) method.Input {
			in := method.Input{"question.0": "b01", "answer.0": "Springfield", "question.1": "b12", "answer.1": "Blue Sky", "question.2": "b29", "answer.2": "Mr Whiskers"}
			mod(in)
			return in
		}
		tests := []struct {
			name  string
			in    method.Input
			field string
		}{
			{"too-short", base(func(in method.Input) { in["answer.0"] = "ab" }), "answer.0"},
			{"too-long", base(func(in method.Input) { in["answer.1"] = strings.Repeat("x", 41) }), "answer.1"},
			{"equals-username", base(func(in method.Input) { in["answer.2"] = "CAROL" }), "answer.2"},
			{"equals-email", base(func(in method.Input) { in["answer.2"] = "carol@example.com" }), "answer.2"},
			{"equals-another-answer", base(func(in method.Input) { in["answer.1"] = "springfield " }), "answer.1"},
			{"common-answer", base(func(in method.Input) { in["answer.0"] = "Pizza" }), "answer.0"},
			{"equals-password", base(func(in method.Input) { in["answer.0"] = "correct horse" }), "answer.0"},
			{"same-question-twice", base(func(in method.Input) { in["question.1"] = "b01" }), "question.1"},
			{"unknown-question", base(func(in method.Input) { in["question.2"] = "zzz" }), "question.2"},
			{"missing-question", base(func(in method.Input) { delete(in, "question.2") }), "question.2"},
			{"control-character", base(func(in method.Input) { in["answer.0"] = "Spring\x00field" }), "answer.0"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := f.m.Begin(t.Context(), "reg", u, tt.in)
				var inv *method.InvalidError
				if !errors.As(err, &inv) || inv.Field != tt.field {
					t.Fatalf("Begin err = %v, want invalid %s", err, tt.field)
				}
			})
		}
		t.Run("accepted-and-hashed", func(t *testing.T) {
			p, err := f.m.Begin(t.Context(), "reg", u, base(func(method.Input) {}))
			if err != nil || !p.Ready || p.Label != "3 security questions" {
				t.Fatalf("Begin = %+v, %v", p, err)
			}
			e, res, err := f.m.Finish(t.Context(), "reg", u, p, nil)
			if err != nil || !res.OK {
				t.Fatal(res, err)
			}
			if strings.Contains(strings.ToLower(string(e.Data)), "springfield") {
				t.Fatal("answer stored in clear")
			}
		})
	})
}

func TestSubsetKeptUntilSuccess(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, 5, 2)
		u := method.Ref{ID: "u-subset", Username: "dave"}
		e := methodtest.Register(t, methodtest.Harness{Method: f.m, Store: f.store, User: u, Register: input("b01", "b12", "b29", "b05", "b24")})
		ctx := t.Context()
		first, err := f.m.Challenge(ctx, "flow-1", u, e)
		if err != nil || len(first.Prompt.Questions) != 2 {
			t.Fatalf("Challenge = %+v, %v", first, err)
		}
		ids := func(c method.Challenge) string {
			var out []string
			for _, q := range c.Prompt.Questions {
				out = append(out, q.ID)
			}
			return strings.Join(out, ",")
		}
		// Restarting flows shows the same questions.
		for i := range 5 {
			c, _ := f.m.Challenge(ctx, "flow-r", u, e)
			if ids(c) != ids(first) {
				t.Fatalf("restart %d asked %s, first asked %s", i, ids(c), ids(first))
			}
		}
		if res, _ := f.m.Verify(ctx, "flow-1", u, e, first, answer(first, strings.ToLower)); !res.OK {
			t.Fatal("right answers (other case) refused")
		}
		// After a success a new subset may be drawn; over many successes
		// more than one subset appears (the draw is random).
		seen := map[string]bool{}
		for range 20 {
			c, _ := f.m.Challenge(ctx, "flow-s", u, e)
			seen[ids(c)] = true
			if res, _ := f.m.Verify(ctx, "flow-s", u, e, c, answer(c, same)); !res.OK {
				t.Fatal("right answers refused")
			}
		}
		if len(seen) < 2 {
			t.Fatalf("only %d subsets in 20 draws", len(seen))
		}
		// Wrong answers keep the subset.
		c1, _ := f.m.Challenge(ctx, "flow-w", u, e)
		f.m.Verify(ctx, "flow-w", u, e, c1, answer(c1, func(s string) string { return "wrong" }))
		c2, _ := f.m.Challenge(ctx, "flow-w2", u, e)
		if ids(c1) != ids(c2) {
			t.Fatalf("wrong answer changed the subset: %s -> %s", ids(c1), ids(c2))
		}
	})
}

func TestDecoyQuestionsStable(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, 3, 3)
		d := method.Enrollment{ID: "decoy-xyz", Method: method.Questions}
		a, _ := f.m.Challenge(t.Context(), "f1", method.Ref{Decoy: true}, d)
		b, _ := f.m.Challenge(t.Context(), "f2", method.Ref{Decoy: true}, d)
		if len(a.Prompt.Questions) != 3 || a.Prompt.Questions[0].ID != b.Prompt.Questions[0].ID || a.Prompt.Questions[2].ID != b.Prompt.Questions[2].ID {
			t.Fatalf("decoy questions differ: %v vs %v", a.Prompt.Questions, b.Prompt.Questions)
		}
		seen := map[string]bool{}
		for _, q := range a.Prompt.Questions {
			if seen[q.ID] {
				t.Fatalf("decoy asks %s twice", q.ID)
			}
			seen[q.ID] = true
		}
	})
}

func en(text string) map[string]string { return map[string]string{questions.DefaultLang: text} }

func TestCustomQuestions(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, 3, 1)
		ctx := t.Context()
		var first method.Question
		for i := range questions.MaxCustom {
			q, err := f.m.AddCustom(ctx, en("What is custom question number "+string(rune('A'+i))+"?"))
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = q
			}
		}
		if _, err := f.m.AddCustom(ctx, en("One question too many?")); !errors.Is(err, questions.ErrTooManyCustom) {
			t.Fatalf("21st custom question: %v", err)
		}
		avail, _ := f.m.Available(ctx)
		if len(avail) != len(questions.Pool)+questions.MaxCustom {
			t.Fatalf("%d questions available", len(avail))
		}
		// A user registers a custom question and two built-in ones; once the
		// custom one is removed its answer no longer counts: it is never
		// asked again, and recovery asks from the other two.
		u := method.Ref{ID: "u-custom"}
		in := method.Input{"question.0": first.ID, "answer.0": "Custom Answer", "question.1": "b01", "answer.1": "Springfield", "question.2": "b12", "answer.2": "Blue  Sky"}
		e := methodtest.Register(t, methodtest.Harness{Method: f.m, Store: f.store, User: u, Register: in})
		if err := f.m.DeleteCustom(ctx, first.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.m.DeleteCustom(ctx, first.ID); !errors.Is(err, method.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		for range 8 { // ask is 1: eight draws would meet a kept custom question
			c, err := f.m.Challenge(ctx, "flow", u, e)
			if err != nil || len(c.Prompt.Questions) != 1 || c.Prompt.Questions[0].ID == first.ID {
				t.Fatalf("Challenge after delete = %+v, %v", c, err)
			}
			r, err := f.m.Verify(ctx, "flow", u, e, c, answer(c, same))
			if err != nil || !r.OK {
				t.Fatalf("Verify after delete = %+v, %v", r, err)
			}
		}
	})
}

// TestCustomQuestionTexts: every problem of a question's texts is reported
// at once, and a German text is shown to German readers.
func TestCustomQuestionTexts(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, 3, 3)
		ctx := t.Context()
		office, err := f.m.AddCustom(ctx, map[string]string{"en": " Where was our first office? ", "de": "Wo war unser erstes Büro?"})
		if err != nil {
			t.Fatal(err)
		}
		if office.Texts["en"] != "Where was our first office?" {
			t.Fatalf("texts are not trimmed: %+v", office)
		}
		tests := []struct {
			name  string
			id    string
			texts map[string]string
			want  []string // fields with a problem, in order
		}{
			{"no default text", "", map[string]string{"de": "Wie hieß die Straße?"}, []string{"texts.en"}},
			{"empty default", "", map[string]string{"en": "  "}, []string{"texts.en"}},
			{"every problem at once", "", map[string]string{
				"en": strings.Repeat("x", questions.MaxQuestion+1), "de": "", "fr": "Où était notre premier bureau ?\nbis", "xx": "Some question?",
				"es": "¿Cuál es el nombre de su primera mascota?",
			}, []string{"texts.de", "texts.en", "texts.fr", "texts.xx"}},
			{"duplicate of a built-in", "", en("what was the NAME of your first pet?"), []string{"texts.en"}},
			{"duplicate of another custom", "", map[string]string{"en": "Another question here?", "de": "wo war unser erstes Büro?"}, []string{"texts.de"}},
			{"editing keeps its own text", office.ID, map[string]string{"en": "Where was our first office?"}, nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				problems, err := f.m.Check(ctx, tc.id, tc.texts)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, p := range problems {
					got = append(got, p.Field)
				}
				if strings.Join(got, ",") != strings.Join(tc.want, ",") {
					t.Fatalf("problems %+v, want fields %v", problems, tc.want)
				}
			})
		}
		if _, err := f.m.EditCustom(ctx, "cnothere", en("A question that is nowhere?")); !errors.Is(err, method.ErrNotFound) {
			t.Fatalf("edit of an unknown question: %v", err)
		}
		if _, err := f.m.EditCustom(ctx, office.ID, map[string]string{"en": "In which town was our first office?", "de": "In welcher Stadt war unser erstes Büro?"}); err != nil {
			t.Fatal(err)
		}
		custom, err := f.m.Custom(ctx)
		if err != nil || len(custom) != 1 || custom[0].Texts["de"] != "In welcher Stadt war unser erstes Büro?" || custom[0].Text != "In which town was our first office?" {
			t.Fatalf("after edit: %+v, %v", custom, err)
		}
	})
}

var _ = time.Second

// TestParallelCustomAdds: admins adding at once never pass the limit of
// MaxCustom questions, and of parallel adds of one text exactly one wins.
func TestParallelCustomAdds(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		f := setup(t, g, 3, 1)
		for i := range questions.MaxCustom - 4 {
			if _, err := f.m.AddCustom(ctx, en(fmt.Sprintf("Which office opened in year %d?", 2000+i))); err != nil {
				t.Fatal(err)
			}
		}
		added, refused := parallel(t, 12, func(i int) error {
			_, err := f.m.AddCustom(ctx, en(fmt.Sprintf("Who sat at desk number %d?", i)))
			return err
		}, func(err error) bool { return errors.Is(err, questions.ErrTooManyCustom) })
		all, err := f.m.Custom(ctx)
		if err != nil || len(all) != questions.MaxCustom || added != 4 || refused != 8 {
			t.Fatalf("%d added, %d refused, %d stored (%v); want 4, 8 and %d", added, refused, len(all), err, questions.MaxCustom)
		}
		for _, q := range all {
			if err := f.m.DeleteCustom(ctx, q.ID); err != nil {
				t.Fatal(err)
			}
		}
		added, refused = parallel(t, 8, func(int) error {
			_, err := f.m.AddCustom(ctx, en("What was the name of our first client?"))
			return err
		}, func(err error) bool {
			var invalid *questions.InvalidTextsError
			return errors.As(err, &invalid)
		})
		if added != 1 || refused != 7 {
			t.Fatalf("one text added %d times (%d refused as a repeat); want once", added, refused)
		}
	})
}

// parallel runs fn n times at once and counts the successes and the
// refusals; any other error fails the test.
func parallel(t *testing.T, n int, fn func(i int) error, refusal func(error) bool) (ok, refused int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := fn(i)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case refusal(err):
				refused++
			default:
				t.Errorf("attempt %d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return ok, refused
}
