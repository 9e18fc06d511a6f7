// Package twiliotest is a Twilio-compatible REST server on loopback for
// tests: it accepts the Messages and Calls resources of one account, checks
// each request the way Twilio would (path, Basic auth, form fields, E.164
// numbers, well-formed TwiML), records what it received, and can be told
// to fail (a status, a slow answer) to exercise gateway failures.
package twiliotest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/sender/twilio"
)

// Account credentials the server accepts.
const (
	SID   = "AC0123456789abcdef0123456789abcdef"
	Token = "test-auth-token-0123456789" // #nosec G101 -- the fake gateway's test token, valid nowhere else
	From  = "+15005550006"
)

// SMS is one accepted message.
type SMS struct{ To, From, Body string }

// Call is one accepted call.
type Call struct {
	To, From, Twiml, SendDigits string
	Says                        []Say // the <Say> verbs, in order
}

// Say is one <Say> verb of a call's TwiML.
type Say struct {
	Language string
	Text     string
}

// Server is the fake gateway.
type Server struct {
	URL string

	mu       sync.Mutex
	srv      *httptest.Server
	sms      []SMS
	calls    []Call
	requests int
	problems []string
	failWith int
	failBody string
	delay    time.Duration
}

// New starts a server that lives as long as the test.
func New(t testing.TB) *Server {
	s := &Server{}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Config is a sender configuration for this server.
func (s *Server) Config() twilio.Config {
	return twilio.Config{URL: s.URL, AccountSID: SID, AuthToken: Token, From: From, Timeout: 2 * time.Second}
}

// Fail makes every following request answer status with body (Twilio's
// JSON error shape when body is ""); 0 restores success.
func (s *Server) Fail(status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWith, s.failBody = status, body
}

// Delay makes every following request wait d before answering.
func (s *Server) Delay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// Requests counts every request received, accepted or not.
func (s *Server) Requests() int { s.mu.Lock(); defer s.mu.Unlock(); return s.requests }

// Messages returns the accepted messages.
func (s *Server) Messages() []SMS {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMS(nil), s.sms...)
}

// Calls returns the accepted calls.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Problems lists protocol violations seen (wrong path, auth, fields);
// a correct client leaves it empty.
func (s *Server) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.problems...)
}

var (
	e164      = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	smsCode   = regexp.MustCompile(`\b[0-9]{8}\b`)
	spoken    = regexp.MustCompile(`[0-9](?:, [0-9])+`)
	digitsDTM = regexp.MustCompile(`^[0-9wW#*]{1,32}$`)
)

// SMSCode is the newest 8-digit code texted to to ("" if none).
func (s *Server) SMSCode(to string) string {
	ms := s.Messages()
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].To == to {
			return smsCode.FindString(ms[i].Body)
		}
	}
	return ""
}

// CallCode is the code the newest call to to said digit by digit ("" if
// none, or if its two <Say> verbs disagree).
func (s *Server) CallCode(to string) string {
	cs := s.Calls()
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].To == to {
			return SpokenCode(cs[i])
		}
	}
	return ""
}

// SpokenCode is the code a call says, "" unless it is said digit by digit
// in each <Say> and the same every time.
func SpokenCode(c Call) string {
	code := ""
	for i, say := range c.Says {
		d := strings.ReplaceAll(spoken.FindString(say.Text), ", ", "")
		if d == "" || (i > 0 && d != code) {
			return ""
		}
		code = d
	}
	return code
}

// Code is the newest code sent to to by text or call.
func (s *Server) Code(to string) string {
	if c := s.SMSCode(to); c != "" {
		return c
	}
	return s.CallCode(to)
}

func (s *Server) problem(w http.ResponseWriter, status, code int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.problems = append(s.problems, msg)
	s.mu.Unlock()
	writeError(w, status, code, msg)
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "status": status,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code)})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	failWith, failBody, delay := s.failWith, s.failBody, s.delay
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	base := "/2010-04-01/Accounts/" + SID + "/"
	if r.Method != http.MethodPost {
		s.problem(w, http.StatusMethodNotAllowed, 20004, "method %s not allowed", r.Method)
		return
	}
	resource, ok := strings.CutPrefix(r.URL.Path, base)
	if !ok || (resource != "Messages.json" && resource != "Calls.json") {
		s.problem(w, http.StatusNotFound, 20404, "unknown path %s", r.URL.Path)
		return
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != SID || pass != Token {
		s.problem(w, http.StatusUnauthorized, 20003, "authentication failed")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		s.problem(w, http.StatusBadRequest, 20001, "content type %q", ct)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.problem(w, http.StatusBadRequest, 20001, "bad form: %v", err)
		return
	}
	for k, v := range r.PostForm {
		if len(v) != 1 {
			s.problem(w, http.StatusBadRequest, 20001, "field %s given %d times", k, len(v))
			return
		}
	}
	f := r.PostForm
	if !e164.MatchString(f.Get("To")) {
		s.problem(w, http.StatusBadRequest, 21211, "invalid To %q", f.Get("To"))
		return
	}
	if failWith != 0 {
		if failBody == "" {
			writeError(w, failWith, 30008, "Unknown error: gateway secret-internal-detail")
		} else {
			w.WriteHeader(failWith)
			_, _ = w.Write([]byte(failBody))
		}
		return
	}
	sid := ""
	switch resource {
	case "Messages.json":
		if f.Get("From") != From && f.Get("MessagingServiceSid") == "" {
			s.problem(w, http.StatusBadRequest, 21212, "invalid From %q", f.Get("From"))
			return
		}
		if f.Get("Body") == "" || len(f.Get("Body")) > 1600 {
			s.problem(w, http.StatusBadRequest, 21602, "bad Body length %d", len(f.Get("Body")))
			return
		}
		s.mu.Lock()
		s.sms = append(s.sms, SMS{To: f.Get("To"), From: f.Get("From"), Body: f.Get("Body")})
		sid = fmt.Sprintf("SM%032d", len(s.sms))
		s.mu.Unlock()
	case "Calls.json":
		if f.Get("From") != From {
			s.problem(w, http.StatusBadRequest, 21212, "invalid From %q", f.Get("From"))
			return
		}
		says, err := parseTwiML(f.Get("Twiml"))
		if err != nil {
			s.problem(w, http.StatusBadRequest, 12100, "bad Twiml: %v", err)
			return
		}
		if d := f.Get("SendDigits"); d != "" && !digitsDTM.MatchString(d) {
			s.problem(w, http.StatusBadRequest, 21218, "invalid SendDigits %q", d)
			return
		}
		s.mu.Lock()
		s.calls = append(s.calls, Call{To: f.Get("To"), From: f.Get("From"), Twiml: f.Get("Twiml"), SendDigits: f.Get("SendDigits"), Says: says})
		sid = fmt.Sprintf("CA%032d", len(s.calls))
		s.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"sid": sid, "status": "queued", "to": f.Get("To")})
}

// parseTwiML checks that doc is a <Response> of <Say> and <Pause> verbs
// and returns the Says.
func parseTwiML(doc string) ([]Say, error) {
	var resp struct {
		XMLName xml.Name `xml:"Response"`
		Verbs   []struct {
			XMLName  xml.Name
			Language string `xml:"language,attr"`
			Length   string `xml:"length,attr"`
			Text     string `xml:",chardata"`
		} `xml:",any"`
	}
	if doc == "" {
		return nil, fmt.Errorf("empty")
	}
	if err := xml.Unmarshal([]byte(doc), &resp); err != nil { // #nosec G709 -- test double: parses the TwiML our own client sent, into a fixed struct
		return nil, err
	}
	var says []Say
	for _, v := range resp.Verbs {
		switch v.XMLName.Local {
		case "Say":
			says = append(says, Say{Language: v.Language, Text: v.Text})
		case "Pause":
		default:
			return nil, fmt.Errorf("unexpected verb <%s>", v.XMLName.Local)
		}
	}
	if len(says) == 0 {
		return nil, fmt.Errorf("no <Say>")
	}
	return says, nil
}
