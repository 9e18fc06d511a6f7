package push_test

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/ui"
)

// webDevice runs the web app's protocol.js under Node (WebCrypto, fetch):
// the same code the phone's browser runs, against the real server.
type webDevice struct {
	t   *testing.T
	in  io.WriteCloser
	out *bufio.Scanner
}

func startWebDevice(t *testing.T) *webDevice {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed: the web app's protocol is not exercised")
	}
	proto, err := filepath.Abs("../../../ui/static/authenticator/protocol.js")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), node, "testdata/device.js")
	cmd.Env = append(os.Environ(), "PROTOCOL_JS="+proto)
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	return &webDevice{t: t, in: in, out: bufio.NewScanner(out)}
}

func (w *webDevice) do(cmd map[string]any, out any) {
	w.t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := w.in.Write(append(b, '\n')); err != nil {
		w.t.Fatal(err)
	}
	if !w.out.Scan() {
		w.t.Fatalf("web device: no answer to %s", b)
	}
	if err := json.Unmarshal(w.out.Bytes(), out); err != nil {
		w.t.Fatalf("web device: %s: %v", w.out.Bytes(), err)
	}
}

// TestWebApp: the web authenticator enrolls with a non-extractable key,
// receives the push, approves with the number, its replayed approval
// fails, and its TOTP codes equal the server's.
func TestWebApp(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		// Node signs with the real clock.
		v := newEnv(t, g, func(c *push.Config) { c.Now = time.Now })
		dev := startWebDevice(t)
		ctx := t.Context()

		fid := rand.Text()
		p, err := v.m.Begin(ctx, fid, v.user, nil)
		if err != nil {
			t.Fatal(err)
		}
		var en struct {
			Device, Account, Code, Error string
			Extractable                  bool
		}
		dev.do(map[string]any{"op": "enroll", "link": p.Prompt.Link, "name": "web"}, &en)
		if en.Error != "" || en.Device == "" || en.Account != "alice" || en.Extractable {
			t.Fatalf("enroll = %+v", en)
		}
		e, res, err := v.m.Finish(ctx, fid, v.user, p, method.Input{push.FieldCode: en.Code})
		if err != nil || !res.OK || e.ID != en.Device {
			t.Fatalf("Finish = %+v %+v, %v", e, res, err)
		}
		if err := v.store.Add(ctx, &e, 0); err != nil {
			t.Fatal(err)
		}

		type pendingOut struct {
			Requests []push.Request
			Error    string
		}
		type decideOut struct{ Result, Error string }

		t.Run("approve-with-number", func(t *testing.T) {
			fid := rand.Text()
			c := v.challenge(t, fid, e)
			var pend pendingOut
			dev.do(map[string]any{"op": "pending", "wait": 5}, &pend)
			if len(pend.Requests) != 1 || pend.Requests[0].ID != c.ID {
				t.Fatalf("pending = %+v", pend)
			}
			var r struct {
				First  string
				Second int
				Error  string
			}
			dev.do(map[string]any{"op": "replay", "chal": c.ID, "num": c.Prompt.Number}, &r)
			if r.First != "approved" || r.Second != http.StatusConflict {
				t.Fatalf("approve then replay = %+v", r)
			}
			if res := v.verify(t, fid, e, c); !res.OK {
				t.Fatalf("verify = %+v", res)
			}
		})
		for _, tt := range []struct{ name, dec, want string }{
			{"wrong-number", "approve", "wrong"},
			{"deny", "deny", "denied"},
			{"report", "report", "reported"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				fid := rand.Text()
				c := v.challenge(t, fid, e)
				var d decideOut
				dev.do(map[string]any{"op": "decide", "chal": c.ID, "dec": tt.dec, "num": wrongNumber(c.Prompt.Number)}, &d)
				if d.Result != tt.want {
					t.Fatalf("decide = %+v, want %s", d, tt.want)
				}
				if res := v.verify(t, fid, e, c); res.OK || !res.Dead {
					t.Fatalf("verify = %+v", res)
				}
			})
		}
		t.Run("web-push-subscription", func(t *testing.T) {
			sub := newBrowserSub(t, "https://push.example/send/abc").sub
			var out struct {
				OK    bool
				Error string
			}
			dev.do(map[string]any{"op": "subscribe", "sub": sub}, &out)
			var n int64
			if err := g.Table("push_subscriptions").Where("device_id = ?", e.ID).Count(&n).Error; err != nil || !out.OK || n != 1 {
				t.Fatalf("subscribe = %+v, %d rows, %v", out, n, err)
			}
		})
		t.Run("totp-codes-match", func(t *testing.T) {
			const seed = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
			for _, at := range []int64{59, 1111111109, time.Now().Unix()} {
				var out struct{ Code, Error string }
				dev.do(map[string]any{"op": "code", "uri": "otpauth://totp/Latchkey:alice?secret=" + seed + "&issuer=Latchkey", "t": at}, &out)
				want, _ := totp.Code(seed, time.Unix(at, 0))
				if out.Code != want {
					t.Fatalf("t=%d: web app code %+v, want %s", at, out, want)
				}
			}
		})
	})
}

// TestWebAppServed: the installable app's files are served, with a
// manifest that installs (name, start URL, standalone, icons) and the
// scripts the pages load.
func TestWebAppServed(t *testing.T) {
	e := echo.New()
	e.GET("/static/*", echo.WrapHandler(ui.Static()))
	srv := httptest.NewServer(e)
	defer srv.Close()
	get := func(path string) (string, string) {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return resp.Header.Get("Content-Type"), string(b)
	}
	_, index := get(push.EnrollPath)
	for _, ref := range []string{"manifest.json", "protocol.js", "app.js", "authenticator.css", "../latchkey.css"} {
		if !strings.Contains(index, `"`+ref+`"`) {
			t.Errorf("index.html does not load %s", ref)
		}
		get(push.EnrollPath + ref)
	}
	if strings.Contains(index, "<script>") || strings.Contains(index, "style=") {
		t.Errorf("inline script or style would break the CSP")
	}
	ct, body := get(push.EnrollPath + "manifest.json")
	var m struct {
		Name, StartURL, Display string
		Icons                   []struct{ Src, Sizes string }
	}
	if err := json.Unmarshal([]byte(strings.NewReplacer("start_url", "StartURL").Replace(body)), &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if m.Name == "" || m.StartURL == "" || m.Display != "standalone" || len(m.Icons) < 2 || !strings.Contains(ct, "json") {
		t.Fatalf("manifest %+v (%s)", m, ct)
	}
	for _, ic := range m.Icons {
		if ct, _ := get(push.EnrollPath + ic.Src); ct != "image/png" {
			t.Errorf("icon %s: %s", ic.Src, ct)
		}
	}
	for _, js := range []string{"sw.js", "wait.js"} {
		if ct, _ := get(push.EnrollPath + js); !strings.Contains(ct, "javascript") {
			t.Errorf("%s served as %s", js, ct)
		}
	}
}
