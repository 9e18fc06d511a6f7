package method

import (
	"context"
	"errors"
	"time"

	"github.com/latchkeyid/latchkey/ui/i18n"
)

// Name identifies a method. The values match plugin/policy's names.
type Name string

const (
	Email          Name = "email"
	TOTP           Name = "totp"
	Questions      Name = "questions"
	Mobile         Name = "mobile"
	AlternatePhone Name = "alternate-phone"
	OfficePhone    Name = "office-phone"
	Push           Name = "push"
)

// Channel is what a proof travels over. Two proofs over one channel count
// once toward the policy (two email codes, even to two addresses; an
// authenticator code and a push to the same app).
type Channel string

const (
	ChannelEmail     Channel = "email"
	ChannelApp       Channel = "app"   // TOTP and push: something on the user's device
	ChannelPhone     Channel = "phone" // SMS and voice alike: one phone network
	ChannelKnowledge Channel = "knowledge"
)

// Ref is the user a method acts for. Fields come from the directory, never
// from the request.
type Ref struct {
	ID       string
	Username string
	Email    string
	// Decoy marks the stand-in for an unknown or unrecoverable user: the
	// method does all its work (so timing and pages match) but sends nothing
	// and never verifies.
	Decoy bool
	// Forbidden lists values an answer must not equal (username, email; the
	// flow may add more). Compared after the method's own normalisation.
	Forbidden []string
	// IsPassword, when set, reports whether a candidate answer equals the
	// user's current password (security questions refuse it).
	IsPassword func(ctx context.Context, candidate string) (bool, error) `json:"-"`
}

// Input is what the user typed into a method's form: field name to value.
// Methods read only the fields they document (e.g. "address", "code",
// "question.0", "answer.0").
type Input map[string]string

// Prompt is what a page shows for a registration step or a challenge. It
// holds nothing secret except, during TOTP registration, the new seed the
// user must copy (Secret, OTPAuthURI, QRCode).
type Prompt struct {
	Kind        string     `json:"kind"`                  // "code", "totp", "questions", "number" (push)
	Destination string     `json:"destination,omitempty"` // masked address/number the code went to
	Channel     string     `json:"channel,omitempty"`     // phones: "sms" or "voice", as the user chose
	Digits      int        `json:"digits,omitempty"`      // length of the expected code
	Questions   []Question `json:"questions,omitempty"`   // questions to answer (field "answer.<i>")
	Number      string     `json:"number,omitempty"`      // push number matching
	Secret      string     `json:"secret,omitempty"`      // TOTP registration: base32 seed
	OTPAuthURI  string     `json:"otpauth,omitempty"`     // TOTP registration
	QRCode      string     `json:"qr,omitempty"`          // TOTP registration: PNG data URL
	// Push: Link is the one-time enrollment link the QR code
	// holds; Poll is a JSON status URL the waiting page polls, and Expires
	// when the push lapses.
	Link    string    `json:"link,omitempty"`
	Poll    string    `json:"poll,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
}

// Question is one security question.
type Question struct {
	ID   string `json:"id"`
	Text string `json:"text"`
	// Texts is an admin-defined question's text per language tag (Text is
	// the default language's); built-in ones are translated by the catalogs.
	Texts map[string]string `json:"texts,omitempty"`
}

// Enrollment is one registered, proven method of a user (a row of
// sspr_methods).
type Enrollment struct {
	ID     string
	UserID string
	Method Name
	Label  string // masked destination for pages and mail: a•••e@example.com
	// DestinationKey is the HMAC of the normalised destination ("" for
	// TOTP/questions): it finds duplicates and keys per-address limits
	// without storing the address in the clear.
	DestinationKey string
	Data           []byte // sealed by the method with aad = ID
	Counter        int64  // method-owned monotonic counter (TOTP: last accepted step)
	CreatedAt      time.Time
	UsableAt       time.Time // not usable for recovery before this (cool-down)
	VerifiedAt     time.Time
	LastUsedAt     *time.Time
}

// Usable reports whether e may be used for recovery at now.
func (e Enrollment) Usable(now time.Time) bool { return !now.Before(e.UsableAt) }

// Pending is a registration in progress, returned by Begin and handed back
// to Finish. The caller keeps it server-side and sealed (it may hold a new
// TOTP seed or answer hashes), e.g. in the flow record's Data.
type Pending struct {
	Method      Name      `json:"method"`
	Label       string    `json:"label"`
	Destination string    `json:"destination_key,omitempty"`
	ChallengeID string    `json:"challenge,omitempty"` // code sent to prove the destination
	Prompt      Prompt    `json:"prompt"`
	State       []byte    `json:"state,omitempty"` // method-private, secret
	ExpiresAt   time.Time `json:"expires_at"`
	// Ready means Finish needs no further answer (security questions: the
	// answers were checked and hashed by Begin).
	Ready bool `json:"ready,omitempty"`
}

// Challenge is one outstanding proof request in a flow. It is
// JSON-serialisable so the flow can keep it (sealed) in its record.
type Challenge struct {
	ID           string    `json:"id"`
	EnrollmentID string    `json:"enrollment"`
	Method       Name      `json:"method"`
	FlowID       string    `json:"flow"`
	Prompt       Prompt    `json:"prompt"`
	State        []byte    `json:"state,omitempty"` // method-private (e.g. question ids)
	ExpiresAt    time.Time `json:"expires_at"`
}

// Result is the outcome of checking an answer. A wrong answer is not an
// error: errors are infrastructure failures only.
type Result struct {
	OK bool
	// Dead: the challenge can no longer succeed (expired, used, too many
	// wrong tries, unknown or bound to another flow); ask for a new one.
	Dead bool
	// Replay: an authenticator code that was already used was presented
	// (checklist 46): the flow audits it and notifies the user.
	Replay bool
	// Pending: the answer is not in yet (a push not yet approved on the
	// device). Not a failure: the page waits and asks again.
	Pending bool
}

// Method is one kind of verification method.
type Method interface {
	Name() Name
	// Describe says how the method presents itself (titles, order, amr).
	Describe() Info
	// Channel says what e's proofs travel over.
	Channel(e Enrollment) Channel
	// Begin starts registering: validates the input, and sends a code to the
	// new destination or makes a new secret. flowID binds the proof code.
	Begin(ctx context.Context, flowID string, u Ref, in Input) (Pending, error)
	// Finish completes a registration with the user's answer (the code sent
	// to the new address, the first TOTP code). It returns a new, unsaved
	// Enrollment (ID set, Data sealed); Result.OK=false for a wrong answer.
	Finish(ctx context.Context, flowID string, u Ref, p Pending, answer Input) (Enrollment, Result, error)
	// Challenge starts a proof with a stored enrollment, sending a code
	// where the method sends one, only ever to e's stored destination.
	Challenge(ctx context.Context, flowID string, u Ref, e Enrollment) (Challenge, error)
	// Verify checks answer against c. It fails (never errors) for a
	// challenge of another flow, user or enrollment.
	Verify(ctx context.Context, flowID string, u Ref, e Enrollment, c Challenge, answer Input) (Result, error)
}

// Resender is implemented by methods whose challenges can be sent again
// (email, phones). A resend overwrites the code and keeps the failure count.
type Resender interface {
	Resend(ctx context.Context, flowID string, u Ref, e Enrollment, c Challenge) (Challenge, error)
}

// Errors.
var (
	// ErrInvalid wraps a user input problem; errors.As *InvalidError for
	// the field and the reason to show.
	ErrInvalid = errors.New("method: invalid input")
	// ErrNotFound: no such enrollment for this user.
	ErrNotFound = errors.New("method: not found")
	// ErrDuplicate: the user already has this method with this destination.
	ErrDuplicate = errors.New("method: already registered")
	// ErrUnavailable: the method cannot work now (no sender configured).
	ErrUnavailable = errors.New("method: unavailable")
	// ErrExpired: a pending registration is too old.
	ErrExpired = errors.New("method: expired")
)

// InvalidError says which field is wrong and why. The why is a message of
// the invalid catalog area (Key, with Args as its template data), so a page
// shows it in the reader's language; Error is the English, for logs and
// the command line.
type InvalidError struct {
	Field string
	Key   string
	Args  []any
}

// Reason is the message in l's language.
func (e *InvalidError) Reason(l *i18n.Localizer) string { return l.T(e.Key, e.Args...) }

func (e *InvalidError) Error() string {
	return "method: invalid " + e.Field + ": " + e.Reason(i18n.English())
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// Invalid returns an *InvalidError: field refused, key the catalog message
// that says why, args its template data as name, value pairs.
func Invalid(field, key string, args ...any) error {
	return &InvalidError{Field: field, Key: key, Args: args}
}

// ErrRateLimited means too many messages were sent to this destination or
// for this user lately; errors.As *RateLimitError for when to retry.
var ErrRateLimited = errors.New("method: too many messages, try again later")

// RateLimitError carries how long to wait.
type RateLimitError struct{ RetryAfter time.Duration }

func (e *RateLimitError) Error() string { return ErrRateLimited.Error() }

// Unwrap makes errors.Is(err, ErrRateLimited) hold.
func (e *RateLimitError) Unwrap() error { return ErrRateLimited }
