package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/latchkeyid/latchkey/plugin/sender"
)

// ErrURL reports a bad LATCHKEY_SMTP_URL. Its message never contains the
// password.
var ErrURL = errors.New("smtp: bad LATCHKEY_SMTP_URL")

// Config is a parsed LATCHKEY_SMTP_URL.
type Config struct {
	Host     string
	Port     int
	Implicit bool // smtps://
	StartTLS gomail.TLSPolicy
	Username string
	Password string
	Auth     gomail.SMTPAuthType // "" = none
	From     string
	Timeout  time.Duration
}

// ParseURL parses LATCHKEY_SMTP_URL.
func ParseURL(raw string) (Config, error) {
	bad := func(why string) (Config, error) { return Config{}, fmt.Errorf("%w: %s", ErrURL, why) }
	u, err := url.Parse(raw)
	if err != nil {
		return bad("not a URL") // url's error would echo the password
	}
	c := Config{Timeout: 15 * time.Second}
	switch u.Scheme {
	case "smtp":
		c.Port = 587
	case "smtps":
		c.Port, c.Implicit = 465, true
	default:
		return bad("scheme must be smtp or smtps")
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		return bad("missing host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("bad port")
		}
		c.Port = n
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	q := u.Query()
	for k, v := range q {
		if len(v) != 1 {
			return bad("parameter " + k + " given more than once")
		}
		switch k {
		case "from", "starttls", "auth", "timeout":
		default:
			return bad("unknown parameter " + k)
		}
	}
	from, err := mail.ParseAddress(q.Get("from"))
	if err != nil {
		return bad("from must be an email address")
	}
	c.From = from.String()
	switch s := q.Get("starttls"); s {
	case "":
		c.StartTLS = gomail.TLSMandatory
		if loopback(c.Host) {
			c.StartTLS = gomail.TLSOpportunistic
		}
	case "required":
		c.StartTLS = gomail.TLSMandatory
	case "opportunistic":
		c.StartTLS = gomail.TLSOpportunistic
	case "none":
		c.StartTLS = gomail.NoTLS
	default:
		return bad("starttls must be required, opportunistic or none")
	}
	switch a := q.Get("auth"); {
	case c.Username == "" && a != "":
		return bad("auth needs a user name")
	case c.Username == "":
	case a == "" || a == "auto":
		c.Auth = gomail.SMTPAuthAutoDiscover
	case a == "plain":
		c.Auth = gomail.SMTPAuthPlain
	case a == "login":
		c.Auth = gomail.SMTPAuthLogin
	default:
		return bad("auth must be plain, login or auto")
	}
	if t := q.Get("timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 || d > 5*time.Minute {
			return bad("timeout must be a duration up to 5m")
		}
		c.Timeout = d
	}
	return c, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Sender sends email over SMTP. Each Send opens its own connection, so one
// Sender is safe for concurrent use.
type Sender struct {
	cfg Config
	tls *tls.Config
}

var _ sender.Sender = (*Sender)(nil)

// Option configures a Sender.
type Option func(*Sender)

// WithTLSConfig sets the TLS configuration (e.g. a private CA; tests).
func WithTLSConfig(c *tls.Config) Option { return func(s *Sender) { s.tls = c } }

// New returns a sender for LATCHKEY_SMTP_URL.
func New(rawURL string, opts ...Option) (*Sender, error) {
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	s := &Sender{cfg: cfg, tls: &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Config returns the parsed configuration.
func (s *Sender) Config() Config { return s.cfg }

// Channel implements sender.Sender.
func (s *Sender) Channel() sender.Channel { return sender.Email }

func (s *Sender) client() (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(s.cfg.Timeout), gomail.WithTLSConfig(s.tls)}
	if s.cfg.Implicit {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPortPolicy(s.cfg.StartTLS))
	}
	if s.cfg.Auth != "" {
		opts = append(opts, gomail.WithSMTPAuth(s.cfg.Auth), gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	return gomail.NewClient(s.cfg.Host, opts...)
}

// Send delivers m as a multipart/alternative message. A recipient the
// server refuses permanently (5xx) is sender.ErrPermanent.
func (s *Sender) Send(ctx context.Context, m sender.Message) error {
	if m.Channel != sender.Email {
		return fmt.Errorf("smtp: %w: channel %s", sender.ErrPermanent, m.Channel)
	}
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return fmt.Errorf("smtp: from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("smtp: %w: bad recipient", sender.ErrPermanent)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	c, err := s.client()
	if err != nil {
		return fmt.Errorf("smtp: client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && se.Reason == gomail.ErrSMTPRcptTo && !se.IsTemp() {
			return fmt.Errorf("smtp: %w: %w", sender.ErrPermanent, err)
		}
		return fmt.Errorf("smtp: send: %w", err)
	}
	return nil
}
