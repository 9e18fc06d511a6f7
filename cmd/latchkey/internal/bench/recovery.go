package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
)

// RecoveryUser is a user with a verified email address the bench may
// reset.
type RecoveryUser struct{ Username, Email string }

// Recovery runs whole self-service password resets by email, each in a
// fresh browser: /recover with the username, "I forgot my password", the
// email method, the code read from the sink, a new password, and the
// "password changed" page. The server must run with the CAPTCHA off (dev
// mode), mail to the sink (LATCHKEY_SMTP_URL), and believe this machine's
// X-Forwarded-For (LATCHKEY_TRUSTED_PROXIES=127.0.0.1): every recovery
// comes from its own address in 198.18.0.0/15 (the benchmarking range), as
// a storm from many people would, instead of tripping the per-IP limits
// meant for one attacker. Worker w owns users w, w+workers, …, each for
// perUser recoveries (the per-address send limit allows a few), and stops
// when they are used up.
func Recovery(hc *http.Client, base string, sink *Sink, users []RecoveryUser, perUser, workers int) Work {
	done := make([]int, workers)
	var ips atomic.Uint32
	return func(ctx context.Context, w int) error {
		i := w + done[w]/perUser*workers
		if i >= len(users) {
			return ErrDone
		}
		done[w]++
		var ip [4]byte
		binary.BigEndian.PutUint32(ip[:], 198<<24|18<<16|ips.Add(1)&(1<<17-1)) // within 198.18.0.0/15
		addr := netip.AddrFrom4(ip)
		// A recovery runs to its end even past the time bound: one cut
		// off would leave its code in flight, to arrive as the next one's.
		return recoverOnce(context.WithoutCancel(ctx), hc, base, sink, users[i], addr.String())
	}
}

func recoverOnce(ctx context.Context, hc *http.Client, base string, sink *Sink, u RecoveryUser, ip string) error {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: forwardedFor{hc.Transport, ip}, Jar: jar, Timeout: hc.Timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/recover", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	codes := sink.Expect(u.Email)
	defer sink.Forget(u.Email)
	newPassword := "orchard " + strings.ToLower(rand.Text()) // free of the username
	steps := []struct {
		field string
		fill  func(pg page, v map[string][]string) error
	}{
		{"username", func(_ page, v map[string][]string) error { v["username"] = []string{u.Username}; return nil }},
		{"intent", func(_ page, v map[string][]string) error { v["intent"] = []string{"reset"}; return nil }},
		{"enrollment", func(pg page, v map[string][]string) error {
			first, _ := pg.doc.Find(`input[name="enrollment"]`).First().Attr("value")
			v["enrollment"] = []string{first}
			return nil
		}},
		{"code", func(_ page, v map[string][]string) error {
			select {
			case code := <-codes:
				v["code"] = []string{code}
				return nil
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Minute):
				return errors.New("recover: no code arrived at the SMTP sink within a minute")
			}
		}},
		{"password", func(_ page, v map[string][]string) error {
			v["password"], v["confirm"] = []string{newPassword}, []string{newPassword}
			return nil
		}},
	}
	for _, st := range steps {
		pg, err := readPage(resp)
		if err != nil {
			return err
		}
		form, values, ok := pg.form(`input[name="` + st.field + `"]`)
		if !ok {
			return fmt.Errorf("recover: no %s field at %s (HTTP %d): %.200s", st.field, pg.url.Path, pg.status,
				strings.Join(strings.Fields(pg.doc.Find("main").Text()), " "))
		}
		if err := st.fill(pg, values); err != nil {
			return err
		}
		action, _ := form.Attr("action")
		target, err := pg.url.Parse(action)
		if err != nil {
			return fmt.Errorf("recover: form action: %w", err)
		}
		if resp, err = c.PostForm(target.String(), values); err != nil {
			return fmt.Errorf("recover: %s: %w", st.field, err)
		}
	}
	pg, err := readPage(resp)
	if err != nil {
		return err
	}
	if !strings.Contains(pg.doc.Find("h1").Text(), "Your password was changed") {
		return fmt.Errorf("recover: ended at %s (HTTP %d): %.200s", pg.url.Path, pg.status,
			strings.Join(strings.Fields(pg.doc.Find("main").Text()), " "))
	}
	return nil
}

// forwardedFor sets X-Forwarded-For on every request.
type forwardedFor struct {
	base http.RoundTripper
	ip   string
}

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.ip)
	return f.base.RoundTrip(r)
}
