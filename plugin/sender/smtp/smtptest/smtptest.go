// Package smtptest is a real SMTP server on loopback
// (github.com/emersion/go-smtp) that records what it receives, for tests of
// the SMTP sender and for end-to-end tests that read codes from mail.
package smtptest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// Message is one received message, parsed.
type Message struct {
	From    string
	To      []string
	Subject string
	Header  mail.Header
	Text    string // text/plain part
	HTML    string // text/html part
	Raw     []byte
}

// Server is a running catcher.
type Server struct {
	Addr     string // host:port
	Username string // when set, AUTH PLAIN with Password is required
	Password string

	srv   *gosmtp.Server
	mu    sync.Mutex
	msgs  []Message
	added chan struct{}
	// RejectRcpt, when set, refuses these recipients permanently (550).
	rejectRcpt map[string]bool
}

// Option configures a Server.
type Option func(*Server)

// WithAuth requires AUTH PLAIN with user and pass.
func WithAuth(user, pass string) Option {
	return func(s *Server) { s.Username, s.Password = user, pass }
}

// WithRejectRcpt makes the server refuse addr with a permanent error.
func WithRejectRcpt(addr string) Option { return func(s *Server) { s.rejectRcpt[addr] = true } }

// Start runs a catcher on 127.0.0.1 until the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{added: make(chan struct{}), rejectRcpt: map[string]bool{}}
	for _, o := range opts {
		o(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.Addr = l.Addr().String()
	s.srv = gosmtp.NewServer(backend{s})
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	s.srv.MaxMessageBytes = 1 << 20
	go s.srv.Serve(l) //nolint:errcheck // ends with Close
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// URL returns a LATCHKEY_SMTP_URL for this server.
func (s *Server) URL(from string) string {
	if s.Username != "" {
		// PLAIN over a loopback connection without TLS: go-mail allows it
		// for localhost only, and auto-discovery refuses it (rightly).
		return "smtp://" + url.UserPassword(s.Username, s.Password).String() + "@" + s.Addr + "?auth=plain&from=" + url.QueryEscape(from)
	}
	return "smtp://" + s.Addr + "?from=" + url.QueryEscape(from)
}

// Messages returns every message received, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait returns the newest message to addr, waiting for one up to the
// context's deadline (or 10 s).
func (s *Server) Wait(ctx context.Context, addr string) (Message, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return s.WaitMatch(ctx, addr, nil)
}

// WaitMatch is Wait for a message matching match (nil: any). Messages
// already received count.
func (s *Server) WaitMatch(ctx context.Context, addr string, match func(Message) bool) (Message, error) {
	for {
		s.mu.Lock()
		for i := len(s.msgs) - 1; i >= 0; i-- {
			m := s.msgs[i]
			for _, to := range m.To {
				if strings.EqualFold(to, addr) && (match == nil || match(m)) {
					s.mu.Unlock()
					return m, nil
				}
			}
		}
		ch := s.added
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Message{}, errors.New("smtptest: no message to " + addr + ": " + ctx.Err().Error())
		case <-ch:
		}
	}
}

var codeRE = regexp.MustCompile(`\b[0-9]{8}\b`)

// Code waits for a message to addr and returns the first 8-digit code in
// its text part.
func (s *Server) Code(ctx context.Context, addr string) (string, error) {
	m, err := s.Wait(ctx, addr)
	if err != nil {
		return "", err
	}
	if c := codeRE.FindString(m.Text); c != "" {
		return c, nil
	}
	return "", errors.New("smtptest: no code in the message to " + addr)
}

// Clear forgets every message.
func (s *Server) Clear() { s.mu.Lock(); s.msgs = nil; s.mu.Unlock() }

func (s *Server) add(m Message) {
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	close(s.added)
	s.added = make(chan struct{})
	s.mu.Unlock()
}

type backend struct{ s *Server }

func (b backend) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (se *session) AuthMechanisms() []string {
	if se.s.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != se.s.Username || pass != se.s.Password {
			return errors.New("invalid credentials")
		}
		se.authed = true
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if se.s.Username != "" && !se.authed {
		return gosmtp.ErrAuthRequired
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if se.s.rejectRcpt[to] {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Message{From: se.from, To: se.to, Raw: raw}
	parse(&m)
	se.s.add(m)
	return nil
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }

// parse fills Subject, Header, Text and HTML from Raw, walking nested
// multiparts and decoding quoted-printable and base64.
func parse(m *Message) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
		m.Subject = subj
	}
	walk(m, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
}

func walk(m *Message, ctype, cte string, body io.Reader) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			walk(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
		}
	}
	var r io.Reader = body
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64Reader(body)
	}
	b, _ := io.ReadAll(r)
	switch mt {
	case "text/plain":
		m.Text = string(b)
	case "text/html":
		m.HTML = string(b)
	}
}
