package questions

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
)

// Limits from the issue.
const (
	MinAnswer     = 3
	MaxAnswer     = 40
	MaxCustom     = 20
	MinRegistered = 3
	MaxRegistered = 5
	MaxQuestion   = 200 // characters of an admin-defined question
)

// Field names: "question.<i>" (a question ID) and "answer.<i>", i from 0.
func FieldQuestion(i int) string { return "question." + strconv.Itoa(i) }

// FieldAnswer is the answer to the i-th question of a form.
func FieldAnswer(i int) string { return "answer." + strconv.Itoa(i) }

// Counts returns the policy's numbers: how many questions a user registers
// and how many a recovery asks. The method reads them at each use, so a
// policy change applies at once.
type Counts func(ctx context.Context) (register, ask int, err error)

// Method is the security-questions method.
type Method struct {
	g      *gorm.DB
	hasher *password.Hasher
	keys   *secret.Keyring
	box    *secret.Box
	counts Counts
	now    func() time.Time
}

var _ method.Method = (*Method)(nil)

// Option configures the method.
type Option func(*Method)

// WithClock injects the clock (tests).
func WithClock(now func() time.Time) Option { return func(m *Method) { m.now = now } }

// New returns the method.
func New(g *gorm.DB, hasher *password.Hasher, keys *secret.Keyring, counts Counts, opts ...Option) *Method {
	m := &Method{g: g, hasher: hasher, keys: keys, box: keys.Box("method/questions"), counts: counts,
		now: func() time.Time { return time.Now().UTC() }}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Name implements method.Method.
func (m *Method) Name() method.Name { return method.Questions }

// Describe says how security questions show on the pages. RFC 8176 has
// "kba" for knowledge-based authentication.
func (m *Method) Describe() method.Info {
	return method.Info{Rank: 60, AddTitle: "Security questions",
		Titles: map[string]string{"": "Answer your security questions"}, AMR: "kba"}
}

// Channel implements method.Method.
func (m *Method) Channel(method.Enrollment) method.Channel { return method.ChannelKnowledge }

// item is one registered question: its text is kept with the hash, so
// removing an admin-defined question never breaks an enrollment.
type item struct {
	ID   string `json:"id"`
	Text string `json:"text"`
	Hash string `json:"hash"`
}

type stored struct {
	ID    string `json:"id,omitempty"`
	Items []item `json:"items"`
}

// Normalize is the answer normaliser: NFKC, Unicode case folding, ends
// trimmed, internal spacing kept.
func Normalize(s string) string { return user.Normalize(s) }

// Available lists the built-in and admin-defined questions, built-in first.
func (m *Method) Available(ctx context.Context) ([]method.Question, error) {
	out := make([]method.Question, 0, len(Pool)+MaxCustom)
	for _, q := range Pool {
		out = append(out, method.Question{ID: q.ID, Text: q.Text})
	}
	custom, err := m.Custom(ctx)
	if err != nil {
		return nil, err
	}
	return append(out, custom...), nil
}

func aadPending(flowID, userID string) []byte { return []byte("pending|" + flowID + "|" + userID) }

// Begin checks the chosen questions and answers and hashes the answers.
// The registration needs no further proof (Pending.Ready).
func (m *Method) Begin(ctx context.Context, flowID string, u method.Ref, in method.Input) (method.Pending, error) {
	register, _, err := m.counts(ctx)
	if err != nil {
		return method.Pending{}, fmt.Errorf("questions: begin: %w", err)
	}
	register = min(max(register, MinRegistered), MaxRegistered)
	avail, err := m.Available(ctx)
	if err != nil {
		return method.Pending{}, err
	}
	texts := map[string]string{}
	for _, q := range avail {
		texts[q.ID] = q.Text
	}
	forbidden := map[string]bool{}
	for _, f := range append([]string{u.Username, u.Email}, u.Forbidden...) {
		if f != "" {
			forbidden[Normalize(f)] = true
		}
	}
	seenQ, seenA := map[string]bool{}, map[string]bool{}
	st := stored{ID: rand.Text()}
	var normalized []string
	for i := range register {
		qid := strings.TrimSpace(in[FieldQuestion(i)])
		text, ok := texts[qid]
		switch {
		case !ok:
			return method.Pending{}, method.Invalid(FieldQuestion(i), "invalid.question.choose", "N", i+1)
		case seenQ[qid]:
			return method.Pending{}, method.Invalid(FieldQuestion(i), "invalid.question.repeated", "N", i+1)
		}
		seenQ[qid] = true
		a := Normalize(in[FieldAnswer(i)])
		if err := checkAnswer(i, a, forbidden, seenA); err != nil {
			return method.Pending{}, err
		}
		if u.IsPassword != nil {
			same, err := u.IsPassword(ctx, strings.TrimSpace(in[FieldAnswer(i)]))
			if err != nil {
				return method.Pending{}, fmt.Errorf("questions: begin: %w", err)
			}
			if same {
				return method.Pending{}, method.Invalid(FieldAnswer(i), "invalid.answer.password", "N", i+1)
			}
		}
		seenA[a] = true
		normalized = append(normalized, a)
		st.Items = append(st.Items, item{ID: qid, Text: text})
	}
	for i, a := range normalized {
		h, err := m.hasher.Hash(ctx, a)
		if err != nil {
			return method.Pending{}, fmt.Errorf("questions: hash: %w", err)
		}
		st.Items[i].Hash = h
	}
	plain, _ := json.Marshal(st)
	return method.Pending{Method: method.Questions, Label: label(len(st.Items)), Ready: true,
		Prompt: method.Prompt{Kind: "questions"},
		State:  m.box.Seal(plain, aadPending(flowID, u.ID)), ExpiresAt: m.now().UTC().Add(method.CodeTTL)}, nil
}

func label(n int) string { return strconv.Itoa(n) + " security questions" }

// checkAnswer applies the registration rules to the normalised answer
// to question i (from 0); the message names the question (people see
// "question 1" for i = 0).
func checkAnswer(i int, a string, forbidden, seen map[string]bool) error {
	field, n := FieldAnswer(i), i+1
	runes := utf8.RuneCountInString(a)
	switch {
	case runes < MinAnswer:
		return method.Invalid(field, "invalid.answer.short", "N", n, "Min", MinAnswer)
	case runes > MaxAnswer:
		return method.Invalid(field, "invalid.answer.long", "N", n, "Max", MaxAnswer)
	case forbidden[a]:
		return method.Invalid(field, "invalid.answer.identity", "N", n)
	case seen[a]:
		return method.Invalid(field, "invalid.answer.repeat", "N", n)
	case common[a]:
		return method.Invalid(field, "invalid.answer.common", "N", n)
	}
	for _, r := range a {
		if r < 0x20 || r == 0x7f {
			return method.Invalid(field, "invalid.answer.control", "N", n)
		}
	}
	return nil
}

// Finish turns a checked registration into an enrollment; the answer is
// ignored (Begin checked everything).
func (m *Method) Finish(ctx context.Context, flowID string, u method.Ref, p method.Pending, _ method.Input) (method.Enrollment, method.Result, error) {
	plain, err := m.box.Open(p.State, aadPending(flowID, u.ID))
	var st stored
	if err == nil {
		err = json.Unmarshal(plain, &st)
	}
	if err != nil || len(st.Items) == 0 || !m.now().Before(p.ExpiresAt) {
		return method.Enrollment{}, method.Result{Dead: true}, nil
	}
	id := st.ID
	st.ID = ""
	data, _ := json.Marshal(st)
	return method.Enrollment{ID: id, UserID: u.ID, Method: method.Questions, Label: label(len(st.Items)),
		Data: m.box.Seal(data, []byte(id))}, method.Result{OK: true}, nil
}

func (m *Method) open(e method.Enrollment) (stored, error) {
	plain, err := m.box.Open(e.Data, []byte(e.ID))
	var st stored
	if err == nil {
		err = json.Unmarshal(plain, &st)
	}
	if err != nil || len(st.Items) == 0 {
		return stored{}, fmt.Errorf("questions: open enrollment: %w", errors.Join(err, errors.New("bad data")))
	}
	return st, nil
}

// askRow is the live model of sspr_question_asks.
type askRow struct {
	EnrollmentID string    `gorm:"primaryKey;size:32"`
	UserID       string    `gorm:"size:64;not null"`
	QuestionIDs  string    `gorm:"size:400;not null"`
	CreatedAt    time.Time `gorm:"precision:6;not null"`
}

func (askRow) TableName() string { return "sspr_question_asks" }

// challengeState is the sealed part of a Challenge: which questions were
// asked, in order.
type challengeState struct {
	IDs []string `json:"ids"`
}

// Challenge asks the user's kept subset of questions, choosing (and
// keeping) one on first use. Restarting a flow shows the same questions,
// so an attacker cannot harvest them all (OWASP).
func (m *Method) Challenge(ctx context.Context, flowID string, u method.Ref, e method.Enrollment) (method.Challenge, error) {
	_, ask, err := m.counts(ctx)
	if err != nil {
		return method.Challenge{}, fmt.Errorf("questions: challenge: %w", err)
	}
	var asked []method.Question
	if u.Decoy {
		asked = m.decoyQuestions(e.ID, ask)
	} else {
		if e.UserID != u.ID || e.Method != method.Questions {
			return method.Challenge{}, method.ErrNotFound
		}
		st, err := m.open(e)
		if err != nil {
			return method.Challenge{}, err
		}
		if asked, err = m.subset(ctx, e, st, ask); err != nil {
			return method.Challenge{}, err
		}
	}
	cs := challengeState{}
	for _, q := range asked {
		cs.IDs = append(cs.IDs, q.ID)
	}
	plain, _ := json.Marshal(cs)
	id := rand.Text()
	return method.Challenge{ID: id, EnrollmentID: e.ID, Method: method.Questions, FlowID: flowID,
		Prompt: method.Prompt{Kind: "questions", Questions: asked},
		State:  m.box.Seal(plain, []byte("challenge|"+id+"|"+flowID+"|"+e.ID)), ExpiresAt: m.now().UTC().Add(method.CodeTTL)}, nil
}

// subset returns the kept questions of e, choosing ask of them at random
// if none are kept. Concurrent first uses agree: the first insert wins.
// Only questions that still exist are asked (see DeleteCustom); with
// none left the enrollment has nothing to ask (method.ErrUnavailable: the
// page says to choose another method).
func (m *Method) subset(ctx context.Context, e method.Enrollment, st stored, ask int) ([]method.Question, error) {
	g := m.g.WithContext(ctx)
	st, byID, err := m.live(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("questions: subset: %w", err)
	}
	if len(st.Items) == 0 {
		return nil, method.ErrUnavailable
	}
	for range 2 {
		var r askRow
		err := g.Where("enrollment_id = ?", e.ID).Take(&r).Error
		if err == nil {
			var out []method.Question
			for _, id := range strings.Split(r.QuestionIDs, ",") {
				if q, ok := byID[id]; ok {
					out = append(out, q)
				}
			}
			if len(out) > 0 {
				return out, nil
			}
			// The kept questions no longer match the enrollment: choose anew.
			if err := g.Where("enrollment_id = ?", e.ID).Delete(&askRow{}).Error; err != nil {
				return nil, fmt.Errorf("questions: subset: %w", err)
			}
		} else if !errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("questions: subset: %w", err)
		}
		ids := pick(st.Items, min(max(ask, 1), len(st.Items)))
		err = g.Create(&askRow{EnrollmentID: e.ID, UserID: e.UserID, QuestionIDs: strings.Join(ids, ","), CreatedAt: m.now().UTC()}).Error
		if err != nil && !errors.Is(err, gorm.ErrDuplicatedKey) {
			return nil, fmt.Errorf("questions: subset: %w", err)
		}
	}
	return nil, fmt.Errorf("questions: subset: could not settle the asked questions")
}

// pick chooses n distinct item IDs with crypto/rand, in registration order.
func pick(items []item, n int) []string {
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	for i := len(idx) - 1; i > 0; i-- {
		j, _ := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		idx[i], idx[j.Int64()] = idx[j.Int64()], idx[i]
	}
	chosen := map[int]bool{}
	for _, i := range idx[:n] {
		chosen[i] = true
	}
	var out []string
	for i, it := range items {
		if chosen[i] {
			out = append(out, it.ID)
		}
	}
	return out
}

// decoyQuestions derives a stable subset of the built-in pool from the
// decoy enrollment's id, so an unknown name shows the same questions on
// every attempt, just like a real user.
func (m *Method) decoyQuestions(seed string, ask int) []method.Question {
	mac := m.keys.MAC("decoy-questions", seed)
	n := min(max(ask, 1), MaxRegistered)
	var out []method.Question
	used := map[int]bool{}
	for i := 0; len(out) < n; i++ {
		j := int(binary.BigEndian.Uint16(mac[(2*i)%len(mac):])) % len(Pool)
		if used[j] {
			j = (j + i + 1) % len(Pool)
			if used[j] {
				continue
			}
		}
		used[j] = true
		out = append(out, method.Question{ID: Pool[j].ID, Text: Pool[j].Text})
	}
	return out
}

// Verify checks the answers to c's questions ("answer.<i>" in the order
// shown). Every answer is hashed even after a wrong one, so timing does not
// say which was wrong. On success the kept subset is released: the next
// recovery draws anew.
func (m *Method) Verify(ctx context.Context, flowID string, u method.Ref, e method.Enrollment, c method.Challenge, answer method.Input) (method.Result, error) {
	if c.EnrollmentID != e.ID || c.FlowID != flowID || !m.now().Before(c.ExpiresAt) {
		return method.Result{Dead: true}, nil
	}
	plain, err := m.box.Open(c.State, []byte("challenge|"+c.ID+"|"+flowID+"|"+e.ID))
	var cs challengeState
	if err == nil {
		err = json.Unmarshal(plain, &cs)
	}
	if err != nil || len(cs.IDs) == 0 {
		return method.Result{Dead: true}, nil
	}
	if u.Decoy || e.UserID != u.ID {
		for i := range cs.IDs {
			_ = m.hasher.Fake(ctx, Normalize(answer[FieldAnswer(i)])) // equal work only; the answer is refused
		}
		return method.Result{}, nil
	}
	st, err := m.open(e)
	if err == nil {
		st, _, err = m.live(ctx, st) // a removed question's answer no longer counts
	}
	if err != nil {
		return method.Result{}, err
	}
	hashes := map[string]string{}
	for _, it := range st.Items {
		hashes[it.ID] = it.Hash
	}
	all := true
	for i, id := range cs.IDs {
		a := Normalize(answer[FieldAnswer(i)])
		h, ok := hashes[id]
		if !ok || utf8.RuneCountInString(a) > 4*MaxAnswer {
			_ = m.hasher.Fake(ctx, a) // equal work only; this answer fails either way
			all = false
			continue
		}
		good, _, err := m.hasher.Verify(ctx, h, a)
		if err != nil {
			return method.Result{}, fmt.Errorf("questions: verify: %w", err)
		}
		all = all && good
	}
	if !all {
		return method.Result{}, nil
	}
	// Releasing the kept subset is also the single-use mark: of two
	// submissions of the right answers (or two racing ones) only the one
	// that deletes the row passes.
	res := m.g.WithContext(ctx).Where("enrollment_id = ? AND question_ids = ?", e.ID, strings.Join(cs.IDs, ",")).Delete(&askRow{})
	if res.Error != nil {
		return method.Result{}, fmt.Errorf("questions: verify: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return method.Result{Dead: true}, nil
	}
	return method.Result{OK: true}, nil
}

// DecoyLabelContext is the label a decoy enrollment of this method shows
// (an unknown name gets a list shaped like a real user's): the number of
// questions a user registers under the current policy, as on a real row.
func (m *Method) DecoyLabelContext(ctx context.Context, _ []byte) (string, error) {
	register, _, err := m.counts(ctx)
	if err != nil {
		return "", fmt.Errorf("questions: decoy: %w", err)
	}
	return label(register), nil
}
