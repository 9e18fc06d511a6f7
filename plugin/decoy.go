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

// decoyEnrollments returns the decoy method list for login under pol.
func (p *Plugin) decoyEnrollments(login string, pol policy.Policy) []method.Enrollment {
	norm := user.Normalize(login)
	mac := p.d.Keys.MAC("sspr-decoy", norm)
	subject := p.decoySubject(login)
	var names []method.Name
	for _, m := range p.d.Methods.Enabled(pol.Methods) {
		switch m.Name() {
		case method.Email, method.TOTP, method.Mobile:
			names = append(names, m.Name())
		}
	}
	if len(names) == 0 {
		return nil
	}
	// One method, or two when the HMAC says so and two are enabled: real
	// users have either, so both shapes must occur among decoys. Which
	// methods is drawn from the HMAC too, in the registry's order.
	n := 1
	if len(names) > 1 && mac[0]&1 == 1 {
		n = 2
	}
	first := int(mac[1]) % len(names)
	picked := []method.Name{names[first]}
	if n == 2 {
		picked = append(picked, names[(first+1)%len(names)])
	}
	slices.SortFunc(picked, func(a, b method.Name) int {
		return slices.Index(names, a) - slices.Index(names, b)
	})
	var out []method.Enrollment
	for i, name := range picked {
		id := base32.StdEncoding.EncodeToString(p.d.Keys.MAC("sspr-decoy-id", norm, string(name)))[:26]
		e := method.Enrollment{ID: id, UserID: subject, Method: name, Label: "Authenticator app"}
		switch name {
		case method.Email:
			e.Label = method.MaskEmail(p.decoyAddress(norm, mac[2+i]))
		case method.Mobile:
			e.Label = method.MaskPhone(fmt.Sprintf("+1%010d", int(mac[4])*10+int(mac[5])%10), 1)
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
