package plugin

import (
	"time"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/policy"
)

// standing judges u's methods by the recovery rules (policy.StandingOf):
// usable reports only the methods recovery would offer now, so the count
// a page shows is the count recovery accepts; cooling down methods
// count only when usable is false.
func (p *Plugin) standing(pol policy.Policy, admin bool, ms []method.Enrollment, now time.Time, usable bool) policy.Standing {
	var proofs []policy.Proof
	for _, e := range ms {
		m, ok := p.d.Methods.Get(e.Method)
		if !ok || (usable && !e.Usable(now)) {
			continue
		}
		proofs = append(proofs, policy.Proof{Method: string(e.Method), Channel: string(m.Channel(e))})
	}
	return pol.StandingOf(admin, proofs)
}
