package method_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/methodtest"
	"github.com/latchkeyid/latchkey/plugin/method/questions"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

func TestStore(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		clk := methodtest.NewClock()
		s := method.NewStore(g, method.WithStoreClock(clk.Now))
		add := func(t *testing.T, e method.Enrollment, coolDown time.Duration) method.Enrollment {
			t.Helper()
			if err := s.Add(ctx, &e, coolDown); err != nil {
				t.Fatalf("Add(%s): %v", e.ID, err)
			}
			return e
		}
		first := add(t, method.Enrollment{ID: "e1", UserID: "u1", Method: method.Email, Label: "a•••e@example.com", DestinationKey: "k1", Data: []byte{1}}, 0)
		second := add(t, method.Enrollment{ID: "e2", UserID: "u1", Method: method.TOTP, Label: "Authenticator app", Data: []byte{2}}, 24*time.Hour)

		t.Run("without-cooldown-usable-at-once", func(t *testing.T) {
			if !first.Usable(clk.Now()) {
				t.Fatalf("first enrollment usable at %v, want now", first.UsableAt)
			}
		})
		t.Run("cooldown-as-the-caller-says", func(t *testing.T) {
			if second.Usable(clk.Now()) || !second.Usable(clk.Now().Add(24*time.Hour)) {
				t.Fatalf("second enrollment usable at %v, want now+24h", second.UsableAt)
			}
			usable, err := s.Usable(ctx, "u1")
			if err != nil || len(usable) != 1 || usable[0].ID != "e1" {
				t.Fatalf("Usable = %+v, %v", usable, err)
			}
			usable, _ = s.Usable(ctx, "u1", "totp")
			if len(usable) != 0 {
				t.Fatalf("Usable(totp) = %+v", usable)
			}
		})
		t.Run("duplicate-destination-refused", func(t *testing.T) {
			err := s.Add(ctx, &method.Enrollment{ID: "e3", UserID: "u1", Method: method.Email, DestinationKey: "k1"}, 0)
			if !errors.Is(err, method.ErrDuplicate) {
				t.Fatalf("err = %v, want ErrDuplicate", err)
			}
			err = s.Add(ctx, &method.Enrollment{ID: "e4", UserID: "u1", Method: method.TOTP}, 0)
			if !errors.Is(err, method.ErrDuplicate) {
				t.Fatalf("second TOTP: err = %v, want ErrDuplicate", err)
			}
			// Another address is fine.
			add(t, method.Enrollment{ID: "e5", UserID: "u1", Method: method.Email, DestinationKey: "k2", Data: []byte{3}}, 24*time.Hour)
		})
		t.Run("bound-to-user", func(t *testing.T) {
			if _, err := s.Get(ctx, "u2", "e1"); !errors.Is(err, method.ErrNotFound) {
				t.Fatalf("Get by other user: %v", err)
			}
			if err := s.Delete(ctx, "u2", "e1"); !errors.Is(err, method.ErrNotFound) {
				t.Fatalf("Delete by other user: %v", err)
			}
			got, err := s.Get(ctx, "u1", "e1")
			if err != nil || got.Label != first.Label || string(got.Data) != "\x01" || got.UsableAt.Location() != time.UTC {
				t.Fatalf("Get = %+v, %v", got, err)
			}
		})
		t.Run("advance-is-atomic-and-monotonic", func(t *testing.T) {
			var wins atomic.Int32
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					ok, err := s.Advance(ctx, "e2", 1000)
					if err != nil {
						t.Error(err)
					}
					if ok {
						wins.Add(1)
					}
				})
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("%d advances to the same step won, want 1", wins.Load())
			}
			if ok, _ := s.Advance(ctx, "e2", 999); ok {
				t.Fatal("advanced backwards")
			}
			if ok, _ := s.Advance(ctx, "e2", 1001); !ok {
				t.Fatal("could not advance forwards")
			}
		})
		t.Run("used-and-delete", func(t *testing.T) {
			if err := s.Used(ctx, "e1"); err != nil {
				t.Fatal(err)
			}
			got, _ := s.Get(ctx, "u1", "e1")
			if got.LastUsedAt == nil || !got.LastUsedAt.Equal(clk.Now()) {
				t.Fatalf("LastUsedAt = %v", got.LastUsedAt)
			}
			if err := s.Delete(ctx, "u1", "e1"); err != nil {
				t.Fatal(err)
			}
			list, _ := s.List(ctx, "u1")
			for _, e := range list {
				if e.ID == "e1" {
					t.Fatal("deleted enrollment still listed")
				}
			}
			if err := s.DeleteUser(ctx, "u1"); err != nil {
				t.Fatal(err)
			}
			if list, _ := s.List(ctx, "u1"); len(list) != 0 {
				t.Fatalf("after DeleteUser: %d left", len(list))
			}
		})
	})
}

func TestMask(t *testing.T) {
	tests := []struct{ name, got, want string }{
		{"email", method.MaskEmail("alice@example.com"), "a•••e@example.com"},
		{"email-short-local", method.MaskEmail("al@example.com"), "a•••@example.com"},
		{"email-unicode", method.MaskEmail("élodie@exemple.fr"), "é•••e@exemple.fr"},
		{"email-garbage", method.MaskEmail("nonsense"), "•••"},
		{"phone-us", method.MaskPhone("+14155550142", 1), "+1 ••• ••• ••42"},
		{"phone-de", method.MaskPhone("+4930123456", 2), "+49 ••• ••• ••56"},
		{"phone-garbage", method.MaskPhone("+1", 1), "+•••"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	k := keyring(t)
	tm := totp.New(nil, k, "Latchkey")
	qm := questions.New(nil, nil, k, nil)
	r, err := method.NewRegistry(tm, qm)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Names(); len(got) != 2 || got[0] != method.TOTP || got[1] != method.Questions {
		t.Fatalf("Names = %v", got)
	}
	if m, ok := r.Get(method.TOTP); !ok || m != tm {
		t.Fatal("Get(totp)")
	}
	if _, ok := r.Get(method.Email); ok {
		t.Fatal("Get(email) on a registry without it")
	}
	// Enabled keeps the registry's order and drops unknown or unavailable names.
	en := r.Enabled([]string{"questions", "email", "totp", "nonsense"})
	if len(en) != 2 || en[0] != tm || en[1] != qm {
		t.Fatalf("Enabled = %v", en)
	}
	if _, err := method.NewRegistry(tm, totp.New(nil, k, "x")); err == nil {
		t.Fatal("two methods with one name accepted")
	}
}

// badInfo is a TOTP method that describes itself wrongly.
type badInfo struct {
	*totp.Method
	info method.Info
}

func (b badInfo) Describe() method.Info { return b.info }

func TestRegistryRefusesBadDescriptions(t *testing.T) {
	tm := totp.New(nil, keyring(t), "Latchkey")
	good := tm.Describe()
	noTitle, badAMR := good, good
	noTitle.Titles = nil
	badAMR.AMR = "email"
	for name, info := range map[string]method.Info{"no-title": noTitle, "amr-outside-rfc-8176": badAMR} {
		t.Run(name, func(t *testing.T) {
			if _, err := method.NewRegistry(badInfo{tm, info}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := method.NewRegistry(badInfo{tm, good}); err != nil {
		t.Fatalf("a good description refused: %v", err)
	}
}
