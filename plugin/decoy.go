package plugin

import (
	"context"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/provider/user"
)

// Decoys (checklist A3). A name that matches no user who can recover (an
// unknown name, a disabled account, an account without methods) walks a
// decoy flow whose challenges send nothing and never verify. Everything
// an outsider can observe is made the same as for a real account:
//
//   - the list is drawn, stable per name, from the census of what real
//     users registered (combinations of kinds, mail domains), so its
//     shape follows the real distribution: questions, three methods, two
//     addresses, whatever real users have;
//   - the pages run the same queries and the same sealing work as a real
//     flow (TestDecoyDoesTheSameWork counts them);
//   - failures count under the key a real account's spellings share (see
//     canonicalName), and every limit applies to decoys as to users.

// decoyRefresh is how often the census behind decoys is read again.
const decoyRefresh = 10 * time.Minute

// decoyCensus caches the census; both real and decoy starts consult it,
// so the occasional refresh is no signal.
type decoyCensus struct {
	mu sync.Mutex
	at time.Time
	c  method.Census
	ok bool
}

func (p *recovery) census(ctx context.Context) method.Census {
	p.cen.mu.Lock()
	defer p.cen.mu.Unlock()
	now := p.d.Now()
	if !p.cen.ok || now.Sub(p.cen.at) >= decoyRefresh || now.Before(p.cen.at) {
		c, err := p.d.Enrollments.Census(ctx)
		if err != nil {
			slog.Warn("plugin: decoy census", "err", err)
			return p.cen.c
		}
		p.cen.c, p.cen.at, p.cen.ok = c, now, true
	}
	return p.cen.c
}

// identity is what a start derives from the typed name, for every name
// alike: the decoy failure key and the seed of the decoy list.
type identity struct {
	key  string
	seed [32]byte
}

// identityOf derives the identity of login (one MAC, real or not).
func (p *recovery) identityOf(ctx context.Context, login string) identity {
	mac := p.d.Keys.MAC("sspr-decoy", p.canonicalName(ctx, login))
	var id identity
	copy(id.seed[:], mac)
	id.key = "decoy:" + hex.EncodeToString(mac[:16])
	return id
}

// canonicalName is the failure key's spelling of a name. A real account
// counts every spelling that reaches it (any case or width, its username
// and its address) as one; for an unknown name the spellings that would
// reach one account in this deployment must count as one too: the
// normalised name, and for an address at one of the deployment's mail
// domains its local part (so "bob" and "BOB@corp.example" pause together
// as "alice" and "alice@corp.example" do). Addresses elsewhere count as
// the normalised address.
func (p *recovery) canonicalName(ctx context.Context, login string) string {
	n := user.Normalize(login)
	i := strings.LastIndexByte(n, '@')
	if i <= 0 || i == len(n)-1 {
		return n
	}
	dom := n[i+1:]
	if slices.Contains(p.d.DecoyMailDomains, dom) {
		return n[:i]
	}
	if _, ok := p.census(ctx).Domains[dom]; ok {
		return n[:i]
	}
	return n
}

// flowData is the sealed Data of a recovery flow: the typed name, and for
// a decoy its list. Real flows carry it too, so both seal and open alike.
type flowData struct {
	Login string       `json:"login"`
	Decoy []decoyEntry `json:"decoy,omitempty"`
	// After a reset: where "Continue" goes (the provider's callback for
	// the pending request, "" when there is none) and the app's name.
	Continue string `json:"continue,omitempty"`
	App      string `json:"app,omitempty"`
}

type decoyEntry struct {
	ID     string      `json:"i"`
	Method method.Name `json:"m"`
	Label  string      `json:"l"`
}

var flowDataAAD = []byte("recover-flow")

func (p *recovery) sealFlowData(d flowData) []byte {
	b, _ := json.Marshal(d) // plain strings: cannot fail
	return p.d.Keys.Box("sspr-flow").Seal(b, flowDataAAD)
}

func (p *recovery) openFlowData(sealed []byte) (flowData, error) {
	var d flowData
	b, err := p.d.Keys.Box("sspr-flow").Open(sealed, flowDataAAD)
	if err != nil {
		return d, fmt.Errorf("plugin: flow data: %w", err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("plugin: flow data: %w", err)
	}
	return d, nil
}

// decoyLabeler is the optional interface of phone methods: a masked number
// in the deployment's region for a decoy, drawn from seed.
type decoyLabeler interface {
	DecoyLabel(seed []byte) string
}

// decoyContextLabeler is the optional interface of methods whose decoy
// label depends on configuration (security questions: how many).
type decoyContextLabeler interface {
	DecoyLabelContext(ctx context.Context, seed []byte) (string, error)
}

// drawDecoy draws the decoy list of a name: a combination of kinds picked
// with the weight real users give it (plus one pseudo-user per enabled
// kind, so a fresh deployment has decoys too), restricted to what the
// policy enables, then ids and labels from the seed.
func (p *recovery) drawDecoy(ctx context.Context, login string, id identity, pol policy.Policy) ([]decoyEntry, error) {
	enabled := map[method.Name]bool{}
	// Labels that need configuration are read for every enabled kind
	// before the draw, so the work does not depend on what is drawn.
	ctxLabels := map[method.Name]string{}
	for _, m := range p.d.Methods.Enabled(pol.Methods) {
		if !pol.Usable(string(m.Name()), false) {
			continue
		}
		enabled[m.Name()] = true
		if dl, ok := m.(decoyContextLabeler); ok {
			l, err := dl.DecoyLabelContext(ctx, id.seed[:])
			if err != nil {
				return nil, err
			}
			ctxLabels[m.Name()] = l
		}
	}
	cen := p.census(ctx)
	domains := p.decoyDomains(cen)
	addressed := strings.Contains(login, "@")
	usable := func(k method.Name) bool {
		return enabled[k] && (!p.info(k).MailAddress || addressed || len(domains) > 0)
	}
	weights := map[string]int{}
	for combo, n := range cen.Combos {
		var kinds []string
		for _, k := range strings.Split(combo, ",") {
			if usable(method.Name(k)) {
				kinds = append(kinds, k)
			}
		}
		if len(kinds) > 0 {
			weights[strings.Join(kinds, ",")] += n
		}
	}
	for k := range enabled {
		if usable(k) {
			weights[string(k)]++
		}
	}
	if len(weights) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(weights))
	total := 0
	for k, n := range weights {
		keys = append(keys, k)
		total += n
	}
	slices.Sort(keys)
	// A keyed, deterministic stream: the same name draws the same decoy
	// every time (the seed is an HMAC of it), so no crypto/rand here.
	rng := rand.New(rand.NewChaCha8(id.seed)) // #nosec G404 -- seeded from an HMAC on purpose: decoys must be stable per name
	pick := int(rng.Uint64() % uint64(total)) // #nosec G115 -- the remainder is below total, an int
	var combo string
	for _, k := range keys {
		if pick < weights[k] {
			combo = k
			break
		}
		pick -= weights[k]
	}
	var out []decoyEntry
	emails := 0
	for _, k := range strings.Split(combo, ",") {
		var raw [16]byte
		binary.BigEndian.PutUint64(raw[:8], rng.Uint64())
		binary.BigEndian.PutUint64(raw[8:], rng.Uint64())
		e := decoyEntry{ID: base32.StdEncoding.EncodeToString(raw[:])[:26], Method: method.Name(k)}
		info := p.info(e.Method)
		seed := make([]byte, 8)
		binary.BigEndian.PutUint64(seed, rng.Uint64())
		dl, phone := p.method(e.Method).(decoyLabeler)
		switch {
		case info.MailAddress:
			e.Label = method.MaskEmail(decoyAddress(login, emails, domains, rng))
			emails++
		case phone:
			e.Label = dl.DecoyLabel(seed)
		case ctxLabels[e.Method] != "":
			e.Label = ctxLabels[e.Method]
		default:
			e.Label = info.DecoyLabel
		}
		out = append(out, e)
	}
	return out, nil
}

// weighted is a mail domain and how many real enrollments use it.
type weighted struct {
	name string
	n    int
}

// decoyDomains are the mail domains decoy addresses use: the configured
// ones (LATCHKEY_DECOY_MAIL_DOMAINS), else the real users' domains by
// their weight, else the issuer's domain when it is a DNS name (never an
// IP address). None means decoys of plain names show no address.
func (p *recovery) decoyDomains(cen method.Census) []weighted {
	var out []weighted
	for _, d := range p.d.DecoyMailDomains {
		out = append(out, weighted{d, 1})
	}
	if len(out) > 0 {
		return out
	}
	for d, n := range cen.Domains {
		out = append(out, weighted{d, n})
	}
	if len(out) > 0 {
		slices.SortFunc(out, func(a, b weighted) int { return strings.Compare(a.name, b.name) })
		return out
	}
	host := strings.TrimSuffix(p.issuer.Hostname(), ".")
	if _, err := netip.ParseAddr(host); err == nil || !strings.Contains(host, ".") {
		return nil
	}
	if parts := strings.Split(host, "."); len(parts) > 2 {
		host = strings.Join(parts[len(parts)-2:], ".")
	}
	return []weighted{{host, 1}}
}

// decoyAddress is the i-th address of a decoy: the typed name itself when
// it is an address, else the name at a drawn domain; further addresses
// get a drawn local part.
func decoyAddress(login string, i int, domains []weighted, rng *rand.Rand) string {
	norm := user.Normalize(login)
	if i == 0 && strings.Contains(norm, "@") {
		return norm
	}
	local := norm
	if at := strings.LastIndexByte(norm, '@'); at >= 0 {
		local = norm[:at]
	}
	if i > 0 || local == "" {
		const letters = "abcdefghijklmnopqrstuvwxyz"
		b := make([]byte, 4+rng.IntN(6))
		for j := range b {
			b[j] = letters[rng.IntN(len(letters))]
		}
		local = string(b)
	}
	if len(domains) == 0 {
		if at := strings.LastIndexByte(norm, '@'); at >= 0 {
			return local + norm[at:]
		}
		return local + "@example.com" // unreachable: email is drawn only with a domain
	}
	total := 0
	for _, d := range domains {
		total += d.n
	}
	pick := rng.IntN(total)
	for _, d := range domains {
		if pick < d.n {
			return local + "@" + d.name
		}
		pick -= d.n
	}
	return local + "@" + domains[0].name
}

// decoyEnrollments turns a decoy flow's list into enrollments.
func decoyEnrollments(f *flow.Flow, d flowData) []method.Enrollment {
	out := make([]method.Enrollment, 0, len(d.Decoy))
	for _, e := range d.Decoy {
		out = append(out, method.Enrollment{ID: e.ID, UserID: f.Subject, Method: e.Method, Label: e.Label})
	}
	return out
}

// decoyEnrollment is the enrollment of a decoy flow's current challenge,
// looked up with the same query a real one takes.
func (p *recovery) decoyEnrollment(ctx context.Context, f *flow.Flow) (method.Enrollment, error) {
	if _, err := p.d.Enrollments.Get(ctx, f.Subject, f.EnrollmentID); err != nil && !errors.Is(err, method.ErrNotFound) {
		return method.Enrollment{}, err
	}
	d, err := p.openFlowData(f.Data)
	if err != nil {
		return method.Enrollment{}, err
	}
	for _, e := range decoyEnrollments(f, d) {
		if e.ID == f.EnrollmentID {
			return e, nil
		}
	}
	return method.Enrollment{}, flowErr(flow.ErrOutOfOrder)
}
