package bench

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// Sink is an SMTP server on loopback that takes every message and hands
// the 8-digit code in it to whoever waits for that recipient; everything
// else is dropped. The server under test sends its recovery codes here
// (LATCHKEY_SMTP_URL=smtp://ADDR?from=…), through its real mail path.
type Sink struct {
	srv *gosmtp.Server
	ln  net.Listener

	mu      sync.Mutex
	waiting map[string]chan string
}

// ListenSink starts a sink on addr, which must be a loopback address.
func ListenSink(addr string) (*Sink, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, errors.New("bench: the SMTP sink listens on a loopback IP only")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Sink{ln: ln, waiting: map[string]chan string{}}
	s.srv = gosmtp.NewServer(sinkBackend{s})
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 30*time.Second, 30*time.Second
	s.srv.MaxMessageBytes = 1 << 20
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Addr is where the sink listens.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Close stops the sink.
func (s *Sink) Close() error { return s.srv.Close() }

// Expect returns the channel the next codes mailed to addr arrive on; call
// it before the code is sent.
func (s *Sink) Expect(addr string) <-chan string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan string, 4)
	s.waiting[strings.ToLower(addr)] = ch
	return ch
}

// Forget stops waiting for addr.
func (s *Sink) Forget(addr string) {
	s.mu.Lock()
	delete(s.waiting, strings.ToLower(addr))
	s.mu.Unlock()
}

func (s *Sink) deliver(rcpts []string, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rcpts {
		if ch, ok := s.waiting[strings.ToLower(r)]; ok {
			select {
			case ch <- code:
			default:
			}
		}
	}
}

type sinkBackend struct{ s *Sink }

func (b sinkBackend) NewSession(*gosmtp.Conn) (gosmtp.Session, error) {
	return &sinkSession{s: b.s}, nil
}

type sinkSession struct {
	s     *Sink
	rcpts []string
}

func (ss *sinkSession) Reset()                                 { ss.rcpts = nil }
func (ss *sinkSession) Logout() error                          { return nil }
func (ss *sinkSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (ss *sinkSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if code := codeRE.FindString(messageText(raw)); code != "" {
		ss.s.deliver(ss.rcpts, code)
	}
	return nil
}

var codeRE = regexp.MustCompile(`\b[0-9]{8}\b`)

// messageText returns the decoded text parts of a message (the raw message
// when it cannot be parsed).
func messageText(raw []byte) string {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return string(raw)
	}
	var b strings.Builder
	partText(&b, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body, 0)
	return b.String()
}

func partText(b *strings.Builder, ctype, encoding string, body io.Reader, depth int) {
	mt, params, err := mime.ParseMediaType(ctype)
	if ctype == "" || err != nil {
		mt = "text/plain"
	}
	switch {
	case strings.HasPrefix(mt, "multipart/") && depth < 5:
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			partText(b, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1)
		}
	case mt == "text/plain":
		switch strings.ToLower(encoding) {
		case "quoted-printable":
			body = quotedprintable.NewReader(body)
		case "base64":
			body = base64.NewDecoder(base64.StdEncoding, newlineStripper{body})
		}
		text, _ := io.ReadAll(io.LimitReader(body, 1<<20))
		b.Write(text)
		b.WriteByte('\n')
	}
}

// newlineStripper drops CR and LF from a base64 body split into lines.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, c := range p[:k] {
			if c != '\r' && c != '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
