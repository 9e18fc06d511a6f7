package phone

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// ErrDelivery is the sentinel of *DeliveryError.
var ErrDelivery = errors.New("phone: couldn't reach the phone")

// MsgDelivery is what a page shows for a *DeliveryError.
const MsgDelivery = "We couldn't reach your phone. Please pick another method."

// DeliveryError means the gateway failed (timeout, refused, 4xx, 5xx): no
// challenge was left behind. errors.Is(err, method.ErrUnavailable) holds,
// so a flow that knows nothing of phones still says "choose another
// method". It carries no gateway response.
type DeliveryError struct {
	Channel sender.Channel
	err     error
}

func (e *DeliveryError) Error() string {
	return "phone: " + string(e.Channel) + " delivery failed: " + e.err.Error()
}

// Unwrap returns the sender's error.
func (e *DeliveryError) Unwrap() error { return e.err }

// Is matches ErrDelivery and method.ErrUnavailable.
func (e *DeliveryError) Is(target error) bool {
	return target == ErrDelivery || target == method.ErrUnavailable
}

// Message is the text for the user.
func (e *DeliveryError) Message() string { return MsgDelivery }

// Deps are what a phone method needs.
type Deps struct {
	Codes *method.Codes
	Keys  *secret.Keyring
	Guard *Guard
	// SMS and Voice deliver; nil means that channel is not configured.
	// Sends are made while the user waits (not queued) so a gateway
	// failure can be shown at once and the challenge withdrawn.
	SMS   sender.Sender
	Voice sender.Sender
	// DefaultRegion (LATCHKEY_DEFAULT_REGION) reads numbers typed without
	// a country code when the form names no country.
	DefaultRegion string
	// Brand is the name said and written in messages ("Latchkey").
	Brand string
	// Domain, when set (the issuer's host), ends each text with the
	// origin-bound line "@domain #code" (WebOTP): browsers offer the code
	// only on that site, which blunts phishing pages that relay it.
	Domain string
	Log    *slog.Logger
}

// Method is one of the three phone methods.
type Method struct {
	name method.Name
	d    Deps
	box  *secret.Box
	// lat holds recent gateway latencies per channel, drawn from for
	// decoys (see latency.go).
	lat map[sender.Channel]*latencies
}

var (
	_ method.Method          = (*Method)(nil)
	_ method.Resender        = (*Method)(nil)
	_ method.InputChallenger = (*Method)(nil)
)

// New returns the method name (method.Mobile, method.AlternatePhone or
// method.OfficePhone).
func New(name method.Name, d Deps) (*Method, error) {
	switch name {
	case method.Mobile, method.AlternatePhone, method.OfficePhone:
	default:
		return nil, fmt.Errorf("phone: %q is not a phone method", name)
	}
	if d.Codes == nil || d.Keys == nil || d.Guard == nil {
		return nil, errors.New("phone: Codes, Keys and Guard are required")
	}
	if d.Brand == "" {
		d.Brand = "Latchkey"
	}
	if d.DefaultRegion == "" {
		d.DefaultRegion = "US"
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	m := &Method{name: name, d: d, box: d.Keys.Box("method/phone"),
		lat: map[sender.Channel]*latencies{sender.SMS: {}, sender.Voice: {}}}
	return m, nil
}

// Name implements method.Method.
func (m *Method) Name() method.Name { return m.name }

// Describe says how this phone shows on the pages. A mobile phone takes
// texts and calls ("sms" in amr); the others are called ("tel").
func (m *Method) Describe() method.Info {
	switch m.name {
	case method.Mobile:
		return method.Info{Rank: 20, AddTitle: "Phone", AMR: "sms", Masked: true, Decoy: true,
			Titles: map[string]string{"": "Text or call my mobile phone", "sms": "Text my mobile phone", "voice": "Call my mobile phone"}}
	case method.AlternatePhone:
		return method.Info{Rank: 30, AddTitle: "Alternate phone", AMR: "tel", Masked: true, Decoy: true,
			Titles: map[string]string{"": "Call my alternate phone"}}
	default:
		return method.Info{Rank: 40, AddTitle: "Office phone", AMR: "tel", Masked: true, Decoy: true,
			Titles: map[string]string{"": "Call my office phone"}}
	}
}

// Channel implements method.Method: texts and calls travel over one phone
// network, so two phone proofs count once.
func (m *Method) Channel(method.Enrollment) method.Channel { return method.ChannelPhone }

// Channels lists the deliveries the method offers now (mobile: "sms"
// and/or "voice"; the others: "voice"), for the page's choice.
func (m *Method) Channels() []sender.Channel {
	var out []sender.Channel
	if m.name == method.Mobile && m.d.SMS != nil {
		out = append(out, sender.SMS)
	}
	if m.d.Voice != nil {
		out = append(out, sender.Voice)
	}
	return out
}

// Countries is the country selector of the registration form: the
// allowlist's regions, with DefaultRegion preselected by the page.
func (m *Method) Countries(ctx context.Context) ([]Country, error) {
	allowed, err := m.d.Guard.Allowed(ctx)
	if err != nil {
		return nil, err
	}
	return Countries(allowed), nil
}

// DefaultRegion is the region preselected in the country selector.
func (m *Method) DefaultRegion() string { return m.d.DefaultRegion }

// stored is the sealed content of an enrollment, a pending registration
// (with the new enrollment's ID) and, without the number, a challenge.
type stored struct {
	ID        string         `json:"id,omitempty"`
	E164      string         `json:"e164,omitempty"`
	Extension string         `json:"ext,omitempty"`
	Channel   sender.Channel `json:"channel,omitempty"`
}

func (m *Method) seal(v stored, aad string) []byte {
	b, _ := json.Marshal(v)
	return m.box.Seal(b, []byte(aad))
}

func (m *Method) open(data []byte, aad string) (stored, error) {
	var v stored
	b, err := m.box.Open(data, []byte(aad))
	if err == nil {
		err = json.Unmarshal(b, &v)
	}
	return v, err
}

func aadPending(flowID, userID string) string { return "pending|" + flowID + "|" + userID }

// DestinationKey is the HMAC of the E.164 number: duplicate registrations
// and per-number limits use it; the number is never stored in the clear.
func (m *Method) DestinationKey(e164 string) string {
	return hex.EncodeToString(m.d.Keys.MAC("phone-destination", e164))
}

// channelFrom reads the delivery the user chose; each method allows only
// its own.
func (m *Method) channelFrom(in method.Input) (sender.Channel, error) {
	v := in[FieldChannel]
	if v == "" {
		v = in[FieldDelivery]
	}
	var ch sender.Channel
	switch v {
	case "":
		if m.name == method.Mobile && m.d.SMS != nil {
			ch = sender.SMS
		} else {
			ch = sender.Voice
		}
	case "sms", "text":
		ch = sender.SMS
	case "voice", "call":
		ch = sender.Voice
	default:
		return "", method.Invalid(FieldChannel, "invalid.channel.choose")
	}
	if ch == sender.SMS && m.name != method.Mobile {
		return "", method.Invalid(FieldChannel, "invalid.channel.calls_only")
	}
	if m.senderFor(ch) == nil {
		return "", fmt.Errorf("phone: %s: %w", ch, method.ErrUnavailable)
	}
	return ch, nil
}

func (m *Method) senderFor(ch sender.Channel) sender.Sender {
	if ch == sender.SMS {
		return m.d.SMS
	}
	return m.d.Voice
}

// Begin validates the number (and the office extension), checks the
// allowlist and limits, and sends a code to the number. A gateway failure
// is a *DeliveryError and leaves no live challenge.
func (m *Method) Begin(ctx context.Context, flowID string, u method.Ref, in method.Input) (method.Pending, error) {
	n, ext, err := m.destination(ctx, in)
	if err != nil {
		return method.Pending{}, err
	}
	ch, err := m.channelFrom(in)
	if err != nil {
		return method.Pending{}, err
	}
	st := stored{ID: rand.Text(), E164: n.E164, Extension: ext, Channel: ch}
	key := m.DestinationKey(n.E164)
	s := Send{Method: m.name, Channel: ch, Purpose: "register", UserID: sendUser(u), FlowID: flowID, Number: n, DestKey: key, Decoy: u.Decoy}
	cid, exp, err := m.issueAndSend(ctx, s, st, func(ctx context.Context) (string, string, time.Time, error) {
		return m.d.Codes.Issue(ctx, flowID, u.ID, st.ID)
	})
	if err != nil {
		return method.Pending{}, err
	}
	return method.Pending{
		Method: m.name, Label: n.Masked(), Destination: key, ChallengeID: cid,
		Prompt: method.Prompt{Kind: "code", Destination: n.Masked(), Digits: method.CodeDigits},
		State:  m.seal(st, aadPending(flowID, u.ID)), ExpiresAt: exp,
	}, nil
}

// destination reads a number to register (and the office phone's
// extension): the type rules of the method, the country allowlist, the
// extension rules. Begin and Provision share it.
func (m *Method) destination(ctx context.Context, in method.Input) (Number, string, error) {
	uses := Calls
	if m.name == method.Mobile {
		uses = Texts
	}
	allowed, err := m.d.Guard.Allowed(ctx)
	if err != nil {
		return Number{}, "", err
	}
	n, err := Parse(in[FieldPhone], in[FieldCountry], m.d.DefaultRegion, uses, allowed)
	if err != nil {
		return Number{}, "", err
	}
	var ext string
	if m.name == method.OfficePhone {
		if ext, err = ParseExtension(in[FieldExtension]); err != nil {
			return Number{}, "", err
		}
	} else if in[FieldExtension] != "" {
		return Number{}, "", method.Invalid(FieldExtension, "invalid.extension.office_only")
	}
	return n, ext, nil
}

// enrollment is the registered number as stored: Finish and Provision
// make the same.
func (m *Method) enrollment(id, userID string, n Number, ext string) method.Enrollment {
	return method.Enrollment{
		ID: id, UserID: userID, Method: m.name, Label: n.Masked(), DestinationKey: m.DestinationKey(n.E164),
		Data: m.seal(stored{E164: n.E164, Extension: ext}, id),
	}
}

// Finish checks the code sent to the new number.
func (m *Method) Finish(ctx context.Context, flowID string, u method.Ref, p method.Pending, answer method.Input) (method.Enrollment, method.Result, error) {
	st, err := m.open(p.State, aadPending(flowID, u.ID))
	if err != nil || p.Method != m.name {
		return method.Enrollment{}, method.Result{Dead: true}, nil // not this flow's registration
	}
	res, err := m.d.Codes.Check(ctx, p.ChallengeID, flowID, u.ID, answer[FieldCode])
	if err != nil || !res.OK {
		return method.Enrollment{}, res, err
	}
	n, err := ParseE164(st.E164)
	if err != nil {
		return method.Enrollment{}, method.Result{}, fmt.Errorf("phone: finish: %w", err)
	}
	return m.enrollment(st.ID, u.ID, n, st.Extension), res, nil
}

// Target is the stored number and extension of e.
type Target struct {
	Number    Number
	Extension string
}

// Target opens e's stored number.
func (m *Method) Target(e method.Enrollment) (Target, error) {
	if e.Method != m.name {
		return Target{}, fmt.Errorf("phone: %s is not a %s enrollment", e.ID, m.name)
	}
	st, err := m.open(e.Data, e.ID)
	if err != nil {
		return Target{}, fmt.Errorf("phone: open enrollment: %w", err)
	}
	n, err := ParseE164(st.E164)
	if err != nil {
		return Target{}, fmt.Errorf("phone: open enrollment: %w", err)
	}
	return Target{Number: n, Extension: st.Extension}, nil
}

// Challenge sends a code to e's stored number over the method's default
// channel (mobile: SMS when configured).
func (m *Method) Challenge(ctx context.Context, flowID string, u method.Ref, e method.Enrollment) (method.Challenge, error) {
	return m.ChallengeInput(ctx, flowID, u, e, nil)
}

// ChallengeInput sends a code to e's stored number over the channel the
// user chose (field "channel": "sms" or "voice"; mobile only offers SMS).
func (m *Method) ChallengeInput(ctx context.Context, flowID string, u method.Ref, e method.Enrollment, in method.Input) (method.Challenge, error) {
	ch, err := m.channelFrom(in)
	if err != nil {
		return method.Challenge{}, err
	}
	var t Target
	key := e.ID // a decoy's stand-in destination: stable per decoy
	if !u.Decoy {
		if e.UserID != u.ID || e.Method != m.name {
			return method.Challenge{}, method.ErrNotFound
		}
		if t, err = m.Target(e); err != nil {
			return method.Challenge{}, err
		}
		key = e.DestinationKey
	}
	s := Send{Method: m.name, Channel: ch, Purpose: "verify", UserID: sendUser(u), FlowID: flowID, Number: t.Number, DestKey: key, Decoy: u.Decoy}
	cid, exp, err := m.issueAndSend(ctx, s, stored{E164: t.Number.E164, Extension: t.Extension, Channel: ch}, func(ctx context.Context) (string, string, time.Time, error) {
		return m.d.Codes.Issue(ctx, flowID, u.ID, e.ID)
	})
	if err != nil {
		return method.Challenge{}, err
	}
	return method.Challenge{ID: cid, EnrollmentID: e.ID, Method: m.name, FlowID: flowID, ExpiresAt: exp,
		Prompt: method.Prompt{Kind: "code", Destination: e.Label, Digits: method.CodeDigits, Channel: string(ch)},
		State:  m.seal(stored{Channel: ch}, "challenge|"+cid)}, nil
}

// Resend sends a new code for c over the same channel to the same stored
// number. The failure count is kept; the old code stops working; the
// cool-down and limits apply.
func (m *Method) Resend(ctx context.Context, flowID string, u method.Ref, e method.Enrollment, c method.Challenge) (method.Challenge, error) {
	if c.EnrollmentID != e.ID || c.FlowID != flowID || c.Method != m.name {
		return method.Challenge{}, method.ErrDead
	}
	cs, err := m.open(c.State, "challenge|"+c.ID)
	if err != nil {
		return method.Challenge{}, method.ErrDead
	}
	var t Target
	key := e.ID
	if !u.Decoy {
		if e.UserID != u.ID || e.Method != m.name {
			return method.Challenge{}, method.ErrNotFound
		}
		if t, err = m.Target(e); err != nil {
			return method.Challenge{}, err
		}
		key = e.DestinationKey
	}
	if m.senderFor(cs.Channel) == nil {
		return method.Challenge{}, fmt.Errorf("phone: %s: %w", cs.Channel, method.ErrUnavailable)
	}
	s := Send{Method: m.name, Channel: cs.Channel, Purpose: "resend", UserID: sendUser(u), FlowID: flowID, Number: t.Number, DestKey: key, Decoy: u.Decoy}
	_, exp, err := m.issueAndSend(ctx, s, stored{E164: t.Number.E164, Extension: t.Extension, Channel: cs.Channel}, func(ctx context.Context) (string, string, time.Time, error) {
		code, exp, err := m.d.Codes.Reissue(ctx, c.ID, flowID, u.ID)
		return c.ID, code, exp, err
	})
	if err != nil {
		return method.Challenge{}, err
	}
	c.ExpiresAt = exp
	return c, nil
}

// Verify checks a code against c.
func (m *Method) Verify(ctx context.Context, flowID string, u method.Ref, e method.Enrollment, c method.Challenge, answer method.Input) (method.Result, error) {
	if c.EnrollmentID != e.ID || c.FlowID != flowID || c.Method != m.name {
		return method.Result{Dead: true}, nil
	}
	return m.d.Codes.Check(ctx, c.ID, flowID, u.ID, answer[FieldCode])
}

// sendUser is the per-user limit key's user: a decoy without an ID is
// keyed by its login, so unknown names do not share one bucket (which
// would make decoys hit the limit sooner than real users).
func sendUser(u method.Ref) string {
	if u.Decoy && u.ID == "" {
		return "name:" + u.Username
	}
	return u.ID
}

// issueAndSend is the one path of every send: guard (allowlist, breaker,
// limits: no gateway call when refused), issue the code, send it while
// the user waits, and on a gateway failure withdraw the challenge so no
// half-made challenge survives. A decoy does the same work but sends
// nothing; it waits about as long as a real send takes.
func (m *Method) issueAndSend(ctx context.Context, s Send, to stored, issue func(context.Context) (string, string, time.Time, error)) (string, time.Time, error) {
	if err := m.d.Guard.Check(ctx, s); err != nil {
		return "", time.Time{}, err
	}
	cid, code, exp, err := issue(ctx)
	if err != nil {
		if errors.Is(err, method.ErrDead) {
			return "", time.Time{}, err
		}
		return "", time.Time{}, fmt.Errorf("phone: %s: %w", s.Purpose, err)
	}
	// A decoy takes this path up to the gateway: the message is built as
	// for a real send, and where the gateway would be called it waits a
	// time drawn from what the gateway recently took.
	msg := sender.Message{Channel: s.Channel, To: to.E164, Kind: "code"}
	lang := i18n.From(ctx).Lang()
	minutes := int(m.d.Codes.TTL().Minutes())
	if s.Channel == sender.SMS {
		msg.Text, msg.Lang = smsText(ctx, m.d.Brand, code, minutes), lang
		if m.d.Domain != "" {
			msg.Text += "\n\n@" + m.d.Domain + " #" + code
		}
	} else {
		msg.Text, msg.Lang, msg.Extension = voiceText(ctx, m.d.Brand, code), voiceTag(lang, method.RequestFrom(ctx).AcceptLanguage), to.Extension
	}
	if s.Decoy {
		m.pretend(ctx, s.Channel)
		return cid, exp, nil
	}
	start := time.Now()
	err = m.senderFor(s.Channel).Send(ctx, msg)
	if err != nil {
		// Withdraw the challenge even if the request was cancelled.
		if rerr := m.d.Codes.Revoke(context.WithoutCancel(ctx), cid); rerr != nil {
			m.d.Log.Warn("phone: revoke undelivered challenge", "err", rerr)
		}
		m.d.Guard.Record(ctx, s, audit.Fail, "gateway")
		m.d.Log.Warn("phone: send failed", "method", string(m.name), "channel", string(s.Channel), "err", err)
		return "", time.Time{}, &DeliveryError{Channel: s.Channel, err: err}
	}
	m.observe(s.Channel, time.Since(start))
	m.d.Guard.Record(ctx, s, audit.OK, "")
	return cid, exp, nil
}

// observe records a real send's gateway latency.
func (m *Method) observe(ch sender.Channel, d time.Duration) {
	if l := m.lat[ch]; l != nil {
		l.add(d)
	}
}

// pretend waits as long as a real send of channel ch takes: a draw from
// the recent latencies (at most 3 s), so a decoy's page is not answered
// measurably faster, nor with a suspiciously constant delay.
func (m *Method) pretend(ctx context.Context, ch sender.Channel) {
	d := priorLatency
	if l := m.lat[ch]; l != nil {
		d = l.draw()
	}
	t := time.NewTimer(min(d, 3*time.Second))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// FormData is what the registration page (ui template
// "security-info-add-phone") needs besides the common fields: the country
// selector (Countries, with Region preselected), whether to ask for an
// Extension, and the delivery Channels to offer.
func (m *Method) FormData(ctx context.Context) (map[string]any, error) {
	allowed, err := m.d.Guard.Allowed(ctx)
	if err != nil {
		return nil, err
	}
	countries := Countries(allowed)
	region := m.d.DefaultRegion
	if len(allowed) > 0 && !slices.Contains(allowed, region) && len(countries) > 0 {
		region = countries[0].Region
	}
	channels := []string{}
	for _, c := range m.Channels() {
		channels = append(channels, string(c))
	}
	return map[string]any{"Countries": countries, "Region": region, "Extension": m.name == method.OfficePhone, "Channels": channels}, nil
}
