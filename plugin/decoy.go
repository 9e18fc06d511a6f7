package plugin

import (
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/provider/user"
)

// Decoys (checklist A3). A name that matches no user who can recover (an
// unknown name, a disabled account, an account without methods) walks a
// decoy flow: a method list derived from HMAC(key, normalised name), the
// same on every request and shaped like a real one, whose challenges send
// nothing and never verify. Its failures count under the decoy's subject,
// so even the recovery block behaves the same.

// decoySubject keys a decoy's failure count and challenges.
func (p *Plugin) decoySubject(login string) string {
	mac := p.d.Keys.MAC("sspr-decoy", user.Normalize(login))
	return "decoy:" + hex.EncodeToString(mac[:16])
}

// decoyLabeler is the optional interface of phone methods: a masked number
// in the deployment's region for a decoy, drawn from seed.
type decoyLabeler interface {
	DecoyLabel(seed []byte) string
}

// decoyKinds are the methods a decoy may show: every kind real users
// recover with whose challenge can be played without sending anything
// (security questions would need a user's own questions).
var decoyKinds = []method.Name{method.Email, method.TOTP, method.Push, method.Mobile, method.AlternatePhone, method.OfficePhone}

// decoyEnrollments returns the decoy method list for login under pol.
func (p *Plugin) decoyEnrollments(login string, pol policy.Policy) []method.Enrollment {
	norm := user.Normalize(login)
	mac := p.d.Keys.MAC("sspr-decoy", norm)
	subject := p.decoySubject(login)
	var ms []method.Method
	for _, m := range p.d.Methods.Enabled(pol.Methods) {
		if slices.Contains(decoyKinds, m.Name()) {
			ms = append(ms, m)
		}
	}
	if len(ms) == 0 {
		return nil
	}
	// One method, or two when the HMAC says so and two are enabled: real
	// users have either, so both shapes must occur among decoys. Which
	// methods is drawn from the HMAC too, in the registry's order.
	n := 1
	if len(ms) > 1 && mac[0]&1 == 1 {
		n = 2
	}
	first := int(mac[1]) % len(ms)
	picked := []int{first}
	if n == 2 {
		picked = append(picked, (first+1)%len(ms))
	}
	slices.Sort(picked)
	var out []method.Enrollment
	for i, k := range picked {
		m := ms[k]
		id := base32.StdEncoding.EncodeToString(p.d.Keys.MAC("sspr-decoy-id", norm, string(m.Name())))[:26]
		e := method.Enrollment{ID: id, UserID: subject, Method: m.Name(), Label: "Authenticator app"}
		switch m.Name() {
		case method.Email:
			e.Label = method.MaskEmail(p.decoyAddress(norm, mac[2+i]))
		case method.Push:
			e.Label = "Latchkey Authenticator"
		case method.Mobile, method.AlternatePhone, method.OfficePhone:
			if dl, ok := m.(decoyLabeler); ok {
				e.Label = dl.DecoyLabel(mac[4+i:])
			} else {
				e.Label = method.MaskPhone(fmt.Sprintf("+1%010d", int(mac[4])*10+int(mac[5])%10), 1)
			}
		}
		out = append(out, e)
	}
	return out
}

// decoyAddress is a plausible address for a decoy: the name itself when it
// is an address, else the name at the issuer's domain.
func (p *Plugin) decoyAddress(norm string, _ byte) string {
	if strings.Contains(norm, "@") {
		return norm
	}
	host := p.issuer.Hostname()
	if parts := strings.Split(host, "."); len(parts) > 2 {
		host = strings.Join(parts[len(parts)-2:], ".")
	}
	return norm + "@" + host
}
