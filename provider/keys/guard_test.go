package keys

import (
	"sync"
	"testing"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/schema"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// TestCreateGuard: instances that saw the same newest generation and
// rotate at the same moment add exactly one key between them (the unique
// (alg, generation) index on MySQL, serialised transactions on SQLite),
// and every one of them reports that key.
func TestCreateGuard(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		kr, err := secret.Parse(secret.Generate())
		if err != nil {
			t.Fatal(err)
		}
		g := dbtest.Open(t, url, []db.Set{schema.Set()}...)
		if err := New(g, kr).Ensure(t.Context()); err != nil {
			t.Fatal(err)
		}
		const n = 6
		ms := make([]*Manager, n)
		for i := range ms {
			ms[i] = New(dbtest.Open(t, url), kr)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		got := make(chan string, n)
		for _, m := range ms {
			wg.Go(func() {
				<-start
				info, err := m.create(t.Context(), RS256, 1, DefaultPublishLead)
				if err != nil {
					t.Errorf("create: %v", err)
					return
				}
				got <- info.KID
			})
		}
		close(start)
		wg.Wait()
		close(got)
		var rows []Row
		g.Where("alg = ?", "RS256").Find(&rows)
		if len(rows) != 2 {
			t.Fatalf("%d RS256 keys after %d racing rotations from generation 1, want 2", len(rows), n)
		}
		var kid string
		for k := range got {
			if kid != "" && k != kid {
				t.Fatalf("racers report different keys %s and %s", kid, k)
			}
			kid = k
		}
	})
}
