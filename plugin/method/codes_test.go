package method_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/methodtest"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/secret"
)

func sets() []db.Set { return []db.Set{schema.Set()} }

func keyring(t *testing.T) *secret.Keyring {
	k, err := secret.Parse(secret.Generate())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newCodes(t *testing.T, g *gorm.DB, opts ...method.CodesOption) (*method.Codes, *methodtest.Clock) {
	clk := methodtest.NewClock()
	return method.NewCodes(g, keyring(t), append([]method.CodesOption{method.WithCodeClock(clk.Now)}, opts...)...), clk
}

func wrongOf(code string) string {
	if code == "00000000" {
		return "11111111"
	}
	return "00000000"
}

func TestNewCodeIsEightRandomDigits(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		c := method.NewCode()
		if len(c) != 8 || strings.Trim(c, "0123456789") != "" {
			t.Fatalf("NewCode() = %q", c)
		}
		seen[c] = true
	}
	if len(seen) < 995 {
		t.Fatalf("only %d distinct codes of 1000", len(seen))
	}
}

func TestCodes(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		t.Run("stored-only-as-hmac", func(t *testing.T) {
			c, _ := newCodes(t, g)
			id, code, _, err := c.Issue(ctx, "flow-1", "user-1", "enr-1")
			if err != nil {
				t.Fatal(err)
			}
			var row struct {
				CodeMAC []byte
				Tries   int
			}
			g.Table("sspr_challenges").Where("id = ?", id).Take(&row)
			if bytes.Contains(row.CodeMAC, []byte(code)) || len(row.CodeMAC) != 32 {
				t.Fatalf("code_mac = %x for code %s", row.CodeMAC, code)
			}
			var n int64
			g.Raw("SELECT COUNT(*) FROM sspr_challenges WHERE id = ? AND (flow_id LIKE ? OR user_id LIKE ?)", id, "%"+code+"%", "%"+code+"%").Scan(&n)
			if n != 0 {
				t.Fatal("code stored in clear")
			}
		})
		tests := []struct {
			name string
			run  func(t *testing.T, c *method.Codes, clk *methodtest.Clock, id, code string) // after Issue in flow-A/user-A
		}{
			{"right-code-once", func(t *testing.T, c *method.Codes, _ *methodtest.Clock, id, code string) {
				mustCheck(t, c, id, "flow-A", "user-A", code, method.Result{OK: true})
				mustCheck(t, c, id, "flow-A", "user-A", code, method.Result{Dead: true})
			}},
			{"spaces-and-dashes-tolerated", func(t *testing.T, c *method.Codes, _ *methodtest.Clock, id, code string) {
				mustCheck(t, c, id, "flow-A", "user-A", " "+code[:4]+"-"+code[4:]+" ", method.Result{OK: true})
			}},
			{"expired-after-ttl", func(t *testing.T, c *method.Codes, clk *methodtest.Clock, id, code string) {
				clk.Advance(10*time.Minute + time.Second)
				mustCheck(t, c, id, "flow-A", "user-A", code, method.Result{Dead: true})
			}},
			{"valid-just-before-ttl", func(t *testing.T, c *method.Codes, clk *methodtest.Clock, id, code string) {
				clk.Advance(10*time.Minute - time.Second)
				mustCheck(t, c, id, "flow-A", "user-A", code, method.Result{OK: true})
			}},
			{"five-wrong-kill-it", func(t *testing.T, c *method.Codes, _ *methodtest.Clock, id, code string) {
				for i := range 4 {
					mustCheck(t, c, id, "flow-A", "user-A", wrongOf(code), method.Result{Dead: false})
					_ = i
				}
				mustCheck(t, c, id, "flow-A", "user-A", wrongOf(code), method.Result{Dead: true})
				mustCheck(t, c, id, "flow-A", "user-A", code, method.Result{Dead: true})
			}},
			{"resend-keeps-failures", func(t *testing.T, c *method.Codes, _ *methodtest.Clock, id, code string) {
				for range 4 {
					mustCheck(t, c, id, "flow-A", "user-A", wrongOf(code), method.Result{})
				}
				code2, _, err := c.Reissue(t.Context(), id, "flow-A", "user-A")
				if err != nil {
					t.Fatal(err)
				}
				mustCheck(t, c, id, "flow-A", "user-A", wrongOf(code2), method.Result{Dead: true})
				mustCheck(t, c, id, "flow-A", "user-A", code2, method.Result{Dead: true})
				if _, _, err := c.Reissue(t.Context(), id, "flow-A", "user-A"); err == nil {
					t.Fatal("reissue of a dead challenge succeeded")
				}
			}},
			{"resend-invalidates-old-code", func(t *testing.T, c *method.Codes, _ *methodtest.Clock, id, code string) {
				code2, _, err := c.Reissue(t.Context(), id, "flow-A", "user-A")
				if err != nil {
					t.Fatal(err)
				}
				if code2 != code {
					mustCheck(t, c, id, "flow-A", "user-A", code, method.Result{})
				}
				mustCheck(t, c, id, "flow-A", "user-A", code2, method.Result{OK: true})
			}},
			{"other-flow-fails-and-counts-there", func(t *testing.T, c *method.Codes, _ *methodtest.Clock, id, code string) {
				// The challenge cannot be answered through another flow or user...
				mustCheck(t, c, id, "flow-B", "user-A", code, method.Result{Dead: true})
				mustCheck(t, c, id, "flow-A", "user-B", code, method.Result{Dead: true})
				// ...and a code of one flow typed into another flow's
				// challenge fails there and spends that challenge's tries.
				id2, code2, _, err := c.Issue(t.Context(), "flow-B", "user-B", "enr")
				if err != nil {
					t.Fatal(err)
				}
				if code2 == code {
					t.Skip("codes collided")
				}
				for range 4 {
					mustCheck(t, c, id2, "flow-B", "user-B", code, method.Result{})
				}
				mustCheck(t, c, id2, "flow-B", "user-B", code, method.Result{Dead: true})
				mustCheck(t, c, id, "flow-A", "user-A", code, method.Result{OK: true})
			}},
			{"new-code-for-user-kills-older", func(t *testing.T, c *method.Codes, _ *methodtest.Clock, id, code string) {
				id2, code2, _, err := c.Issue(t.Context(), "flow-B", "user-A", "enr")
				if err != nil {
					t.Fatal(err)
				}
				mustCheck(t, c, id, "flow-A", "user-A", code, method.Result{Dead: true})
				mustCheck(t, c, id2, "flow-B", "user-A", code2, method.Result{OK: true})
			}},
			{"invalidate-user", func(t *testing.T, c *method.Codes, _ *methodtest.Clock, id, code string) {
				if err := c.InvalidateUser(g.WithContext(t.Context()), "user-A"); err != nil {
					t.Fatal(err)
				}
				mustCheck(t, c, id, "flow-A", "user-A", code, method.Result{Dead: true})
			}},
			{"malformed-input-is-just-wrong", func(t *testing.T, c *method.Codes, _ *methodtest.Clock, id, code string) {
				for _, in := range []string{"", "abc", code + "0", strings.Repeat("9", 10000), "１２３４５６７８"} {
					res, err := c.Check(t.Context(), id, "flow-A", "user-A", in)
					if err != nil || res.OK {
						t.Fatalf("Check(%.20q) = %+v, %v", in, res, err)
					}
				}
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c, clk := newCodes(t, g)
				id, code, exp, err := c.Issue(t.Context(), "flow-A", "user-A", "enr-A")
				if err != nil {
					t.Fatal(err)
				}
				if want := clk.Now().Add(10 * time.Minute); !exp.Equal(want) {
					t.Fatalf("expires %v, want %v", exp, want)
				}
				tt.run(t, c, clk, id, code)
			})
		}
		t.Run("ttl-configurable-lower-only", func(t *testing.T) {
			c, _ := newCodes(t, g, method.WithCodeTTL(5*time.Minute))
			if c.TTL() != 5*time.Minute {
				t.Fatalf("TTL = %v", c.TTL())
			}
			c, _ = newCodes(t, g, method.WithCodeTTL(time.Hour))
			if c.TTL() != 10*time.Minute {
				t.Fatalf("TTL = %v, want the 10 min cap", c.TTL())
			}
		})
		t.Run("concurrent-right-codes-pass-once", func(t *testing.T) {
			c, _ := newCodes(t, g)
			id, code, _, err := c.Issue(ctx, "flow-C", "user-C", "enr")
			if err != nil {
				t.Fatal(err)
			}
			var ok atomic.Int32
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					res, err := c.Check(ctx, id, "flow-C", "user-C", code)
					if err != nil {
						t.Error(err)
					}
					if res.OK {
						ok.Add(1)
					}
				})
			}
			wg.Wait()
			if ok.Load() != 1 {
				t.Fatalf("%d successes of 20 concurrent right codes, want 1", ok.Load())
			}
		})
		t.Run("concurrent-wrong-codes-evaluate-at-most-five", func(t *testing.T) {
			c, _ := newCodes(t, g)
			id, code, _, err := c.Issue(ctx, "flow-D", "user-D", "enr")
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var alive atomic.Int32
			for i := range 50 {
				wg.Go(func() {
					guess := fmt.Sprintf("%08d", i)
					if guess == code {
						guess = wrongOf(code)
					}
					res, err := c.Check(ctx, id, "flow-D", "user-D", guess)
					if err != nil {
						t.Error(err)
					}
					if !res.Dead {
						alive.Add(1) // evaluated and not yet the fifth
					}
				})
			}
			wg.Wait()
			var tries int
			g.Table("sspr_challenges").Select("tries").Where("id = ?", id).Scan(&tries)
			if tries != 5 || alive.Load() > 4 {
				t.Fatalf("tries = %d, non-dead answers = %d; want 5 and <= 4", tries, alive.Load())
			}
			mustCheck(t, c, id, "flow-D", "user-D", code, method.Result{Dead: true})
		})
		t.Run("cleanup", func(t *testing.T) {
			c, clk := newCodes(t, g)
			if _, _, _, err := c.Issue(ctx, "flow-E"+rand.Text(), "user-E", "enr"); err != nil {
				t.Fatal(err)
			}
			n, err := c.Cleanup(ctx, clk.Now().Add(11*time.Minute))
			if err != nil || n < 1 {
				t.Fatalf("Cleanup = %d, %v", n, err)
			}
		})
	})
}

func mustCheck(t *testing.T, c *method.Codes, id, flow, user, code string, want method.Result) {
	t.Helper()
	got, err := c.Check(t.Context(), id, flow, user, code)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if got != want {
		t.Fatalf("Check(%s, %s, %q) = %+v, want %+v", flow, user, code, got, want)
	}
}

// BenchmarkCodeRoundTrip measures one issue + one right check (four
// statements), the database share of a code step in a recovery.
func BenchmarkCodeRoundTrip(b *testing.B) {
	for _, backend := range dbtest.Backends {
		b.Run(string(backend), func(b *testing.B) {
			g := dbtest.Open(b, dbtest.URL(b, backend), sets()...)
			keys, _ := secret.Parse(secret.Generate())
			c := method.NewCodes(g, keys)
			ctx := b.Context()
			b.ResetTimer()
			for b.Loop() {
				id, code, _, err := c.Issue(ctx, "flow", "user", "enr")
				if err != nil {
					b.Fatal(err)
				}
				if res, err := c.Check(ctx, id, "flow", "user", code); err != nil || !res.OK {
					b.Fatal(res, err)
				}
			}
		})
	}
}
