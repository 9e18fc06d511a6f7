package policy

// Proof is one method a flow verified: the method name and the channel its
// verifier reported (two proofs over one channel count once).
type Proof struct {
	Method  string
	Channel string
}

// Knowledge is the channel of security questions.
const Knowledge = "knowledge"

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
	channels := map[string]bool{}
	possession, knowledge, app := 0, false, false
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
		if pr.Channel == "app" {
			app = true
		}
	}
	if possession == 0 {
		return false
	}
	n := possession
	if knowledge {
		n++
	}
	need := p.RequiredFor(admin)
	if hasApp && need < 2 && !app {
		need = 2
	}
	return n >= need
}
