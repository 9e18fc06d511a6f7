package push_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/authenticator"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// pushService is a Web Push service on loopback (the browser vendor's
// side): it records each delivery and answers with status.
type pushService struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	got    []delivery
}

type delivery struct {
	header http.Header
	body   []byte
	path   string
}

func newPushService(t *testing.T) *pushService {
	p := &pushService{status: http.StatusCreated}
	p.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.got = append(p.got, delivery{header: r.Header.Clone(), body: b, path: r.URL.Path})
		st := p.status
		p.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(p.Close)
	return p
}

// browserSub is the browser's side of a subscription: its ECDH key and
// auth secret, to decrypt what the push service received.
type browserSub struct {
	key  *ecdh.PrivateKey
	auth []byte
	sub  authenticator.Subscription
}

func newBrowserSub(t *testing.T, endpoint string) *browserSub {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b := &browserSub{key: k, auth: make([]byte, 16)}
	_, _ = rand.Read(b.auth)
	b.sub.Endpoint = endpoint
	b.sub.Keys.P256dh = base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes())
	b.sub.Keys.Auth = base64.RawURLEncoding.EncodeToString(b.auth)
	return b
}

// decrypt opens an aes128gcm Web Push message (RFC 8291 §3.4, RFC 8188).
func (b *browserSub) decrypt(t *testing.T, body []byte) []byte {
	t.Helper()
	if len(body) < 21 {
		t.Fatalf("short body")
	}
	salt, idlen := body[:16], int(body[20])
	asPub, ct := body[21:21+idlen], body[21+idlen:]
	as, err := ecdh.P256().NewPublicKey(asPub)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := b.key.ECDH(as)
	if err != nil {
		t.Fatal(err)
	}
	info := append(append([]byte("WebPush: info\x00"), b.key.PublicKey().Bytes()...), asPub...)
	prkKey, _ := hkdf.Extract(sha256.New, secret, b.auth)
	ikm, _ := hkdf.Expand(sha256.New, prkKey, string(info), 32)
	prk, _ := hkdf.Extract(sha256.New, ikm, salt)
	cek, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	nonce, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	blk, _ := aes.NewCipher(cek)
	gcm, _ := cipher.NewGCM(blk)
	plain, err := gcm.Open(nil, nonce, ct, nil)
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	plain = bytes.TrimRight(plain, "\x00")
	if len(plain) == 0 || plain[len(plain)-1] != 2 {
		t.Fatalf("bad padding delimiter")
	}
	return plain[:len(plain)-1]
}

func TestWebPush(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		ps := newPushService(t)
		results := make(chan error, 10)
		v := newEnv(t, g, func(c *push.Config) {
			c.WebPushClient = ps.Client()
			c.OnWebPush = func(_ string, _ int, err error) { results <- err }
		})
		dev, e := v.enroll(t)
		br := newBrowserSub(t, ps.URL+"/push/abc")
		waitResult := func(t *testing.T) error {
			t.Helper()
			select {
			case err := <-results:
				return err
			case <-time.After(10 * time.Second):
				t.Fatal("no web push attempt")
				return nil
			}
		}

		t.Run("no-subscription-no-delivery", func(t *testing.T) {
			v.challenge(t, "f1", e)
			if err := waitResult(t); err != nil {
				t.Fatal(err)
			}
			if len(ps.got) != 0 {
				t.Fatalf("delivered without a subscription")
			}
		})
		t.Run("bad-subscriptions-refused", func(t *testing.T) {
			for _, mod := range []func(s *authenticator.Subscription){
				func(s *authenticator.Subscription) { s.Endpoint = strings.Replace(s.Endpoint, "https:", "http:", 1) },
				func(s *authenticator.Subscription) { s.Keys.P256dh = "AAAA" },
				func(s *authenticator.Subscription) { s.Keys.Auth = "" },
				func(s *authenticator.Subscription) { s.Endpoint = "https://user:pw@push.example/x" },
			} {
				s := br.sub
				mod(&s)
				if err := v.cli.Subscribe(ctx, dev, s); apiStatus(err) != http.StatusBadRequest {
					t.Errorf("subscription %+v: %v, want 400", s, err)
				}
			}
		})
		t.Run("delivered-encrypted-without-the-number", func(t *testing.T) {
			if err := v.cli.Subscribe(ctx, dev, br.sub); err != nil {
				t.Fatal(err)
			}
			v.clk.Advance(push.Window)
			c := v.challenge(t, "f2", e)
			if err := waitResult(t); err != nil {
				t.Fatal(err)
			}
			d := ps.got[len(ps.got)-1]
			if d.path != "/push/abc" || d.header.Get("Content-Encoding") != "aes128gcm" || d.header.Get("Urgency") != "high" ||
				d.header.Get("TTL") != "120" {
				t.Fatalf("delivery %s %v", d.path, d.header)
			}
			var p push.WebPushPayload
			if err := json.Unmarshal(br.decrypt(t, d.body), &p); err != nil || p.ID != c.ID || p.App != "Latchkey" {
				t.Fatalf("payload %+v, %v", p, err)
			}
			if plain := string(br.decrypt(t, d.body)); strings.Contains(plain, `"`+c.Prompt.Number+`"`) || strings.Contains(plain, "number") {
				t.Fatalf("payload carries the number: %s", plain)
			}
			// VAPID: a JWT for the push service's origin, signed by the
			// key the browser subscribed with.
			auth := d.header.Get("Authorization")
			tok, k, ok := strings.Cut(strings.TrimPrefix(auth, "vapid t="), ", k=")
			if !ok || k != v.m.VAPIDPublicKey() {
				t.Fatalf("Authorization %q", auth)
			}
			raw, _ := base64.RawURLEncoding.DecodeString(k)
			x, y := elliptic.Unmarshal(elliptic.P256(), raw) //nolint:staticcheck // test-side decoding of the key
			jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			claims, err := jws.Verify(&ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: new(big.Int).Set(y)})
			if err != nil || !strings.Contains(string(claims), `"aud":"`+ps.URL+`"`) {
				t.Fatalf("VAPID JWT %s: %v", claims, err)
			}
		})
		t.Run("gone-subscription-forgotten", func(t *testing.T) {
			ps.mu.Lock()
			ps.status = http.StatusGone
			ps.mu.Unlock()
			v.clk.Advance(push.Window)
			v.challenge(t, "f3", e)
			if err := waitResult(t); err == nil {
				t.Fatal("a 410 was not reported")
			}
			var n int64
			g.Table("push_subscriptions").Count(&n)
			if n != 0 {
				t.Fatalf("subscription kept after 410")
			}
		})
		t.Run("private-addresses-refused-by-default", func(t *testing.T) {
			v2 := newEnv(t, g, func(c *push.Config) {
				c.OnWebPush = func(_ string, _ int, err error) { results <- err }
			})
			dev2, e2 := v2.enroll(t)
			if err := v2.cli.Subscribe(ctx, dev2, br.sub); err != nil { // https://127.0.0.1:port
				t.Fatal(err)
			}
			n := len(ps.got)
			v2.challenge(t, "f4", e2)
			if err := waitResult(t); err == nil || !strings.Contains(err.Error(), "refusing") {
				t.Fatalf("loopback endpoint: %v, want refused", err)
			}
			if len(ps.got) != n {
				t.Fatalf("the server connected to a loopback endpoint")
			}
		})
		t.Run("vapid-key-endpoint", func(t *testing.T) {
			resp, err := v.srv.Client().Get(v.srv.URL + push.APIPath + "/vapid")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct{ Key string }
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Key != v.m.VAPIDPublicKey() || len(out.Key) != 87 {
				t.Fatalf("vapid = %+v, %v", out, err)
			}
		})
		v.m.Wait()
	})
}

// Shutdown: Wait may start while sign-ins still issue pushes (a late
// request during a graceful stop). It returns, later pushes are still
// issued (the device long-polls them) but no longer delivered in the
// background, and the race detector sees no misuse of the wait.
func TestWaitDuringPushes(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		ps := newPushService(t)
		var delivered atomic.Int32
		v := newEnv(t, g, func(c *push.Config) {
			c.WebPushClient = ps.Client()
			c.OnWebPush = func(string, int, error) { delivered.Add(1) }
		})
		dev, e := v.enroll(t)
		if err := v.cli.Subscribe(t.Context(), dev, newBrowserSub(t, ps.URL+"/push/wait").sub); err != nil {
			t.Fatal(err)
		}
		waited := make(chan struct{})
		go func() { v.m.Wait(); close(waited) }()
		v.challenge(t, rand.Text(), e) // before or after Wait began: either is fine
		<-waited
		before := delivered.Load()
		ch := v.challenge(t, rand.Text(), e)
		v.m.Wait()
		if got := delivered.Load(); got != before {
			t.Fatalf("a push issued after shutdown began was delivered in the background (%d → %d)", before, got)
		}
		if ch.ID == "" {
			t.Fatal("the push after shutdown began was not issued")
		}
	})
}
