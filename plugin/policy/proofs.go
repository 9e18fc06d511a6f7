package policy

// Proof is one method a flow verified: the method name and the channel its
// verifier reported (two proofs over one channel count once).
type Proof struct {
	Method  string
	Channel string
}

// Knowledge is the channel of security questions.
const Knowledge = "knowledge"

// appChannel is the channel of the authenticator apps (TOTP and push).
const appChannel = "app"

// Satisfied reports whether proofs are enough for a reset or unlock by a
// user (admin or not, hasApp: an authenticator app is registered).
//
// Rules, each from the issue or the checklist:
//   - proofs count once per channel (two email codes, even to two
//     addresses, are one proof: Kratos #4317);
//   - security questions count at most once and only beside a possession
//     proof, so they never suffice alone, whatever Required says;
//   - admins need two and questions do not count for them;
//   - a user with an authenticator app (a second factor) cannot get in with
//     one proof from a weaker channel (Kratos CVE-2024-45042): one proof is
//     enough only when it is the app itself.
func (p Policy) Satisfied(admin, hasApp bool, proofs []Proof) bool {
	n, app := p.count(admin, proofs)
	need := p.RequiredFor(admin)
	if hasApp && need < 2 && !app {
		need = 2
	}
	return n > 0 && n >= need
}

// count is how many of proofs the rules above count, and whether one of
// them is the authenticator app.
func (p Policy) count(admin bool, proofs []Proof) (n int, app bool) {
	channels := map[string]bool{}
	possession, knowledge := 0, false
	for _, pr := range proofs {
		if !p.Usable(pr.Method, admin) {
			continue
		}
		if pr.Method == Questions || pr.Channel == Knowledge {
			knowledge = true
			continue
		}
		if channels[pr.Channel] {
			continue
		}
		channels[pr.Channel] = true
		possession++
		if pr.Channel == appChannel {
			app = true
		}
	}
	if possession == 0 {
		return 0, false
	}
	if knowledge {
		possession++
	}
	return possession, app
}

// Standing is what a user's registered methods are worth at recovery, in
// the words the registration and Security info pages show.
type Standing struct {
	// Counted is how many methods recovery counts (security questions
	// only beside another method, one per channel).
	Counted int
	// Needed is how many the policy asks for (admins: two).
	Needed int
	// Enough: recovery accepts the registered methods (Satisfied with one
	// proof of each).
	Enough bool
	// AppRule: an authenticator app is registered and one proof would do
	// otherwise, so any proof but the app itself needs a second one.
	AppRule bool
	// QuestionsOnly: only security questions are registered, which never
	// recover alone.
	QuestionsOnly bool
}

// StandingOf judges registered, one proof per method the user can use for
// recovery now, by the same rules as Satisfied: the registration pages
// and recovery share this one definition.
func (p Policy) StandingOf(admin bool, registered []Proof) Standing {
	hasApp, questions, others := false, false, false
	for _, pr := range registered {
		if !p.Usable(pr.Method, admin) {
			continue
		}
		switch {
		case pr.Method == Questions || pr.Channel == Knowledge:
			questions = true
		default:
			others = true
			hasApp = hasApp || pr.Channel == appChannel
		}
	}
	n, _ := p.count(admin, registered)
	need := p.RequiredFor(admin)
	return Standing{Counted: n, Needed: need, Enough: p.Satisfied(admin, hasApp, registered),
		AppRule: hasApp && need < 2, QuestionsOnly: questions && !others}
}
