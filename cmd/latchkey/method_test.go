package main

import (
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

func TestMethodCommands(t *testing.T) {
	c := newCLI(t, dbtest.URL(t, dbtest.SQLite))
	c.must(alicePW+"\n", "user", "create", "--username", "alice", "--email", "alice@example.com", "--password-stdin")
	g := dbtest.Open(t, c.dbURL, migrationSets()...)
	users := c.must("", "user", "show", "alice")
	id := strings.Fields(strings.SplitN(users, "\n", 2)[0])[1]
	e := &method.Enrollment{ID: "TESTMETHOD0000000000000001", UserID: id, Method: "totp", Label: "Authenticator app", Data: []byte("sealed")}
	if err := method.NewStore(g).Add(t.Context(), e, 0); err != nil {
		t.Fatal(err)
	}
	if out := c.must("", "method", "list", "--user", "alice"); !strings.Contains(out, e.ID) || !strings.Contains(out, "Authenticator app") {
		t.Fatalf("list:\n%s", out)
	}
	if r := c.run("", "method", "remove", "--user", "alice", "--id", "NOPE"); r.code != exitFailed || !strings.Contains(r.err, "no method") {
		t.Fatalf("remove unknown: %d %s", r.code, r.err)
	}
	if out := c.must("", "method", "remove", "--user", "alice", "--id", e.ID); !strings.Contains(out, "removed totp") {
		t.Fatalf("remove: %s", out)
	}
	if out := c.must("", "method", "list", "--user", "alice"); strings.Contains(out, e.ID) {
		t.Fatalf("still listed:\n%s", out)
	}
	if out := c.must("", "audit", "--type", "admin.method.remove"); !strings.Contains(out, "method=totp") {
		t.Fatalf("not audited:\n%s", out)
	}
	if r := c.run("", "method", "add", "--user", "alice", "--type", "email", "--value", "a@b.c"); r.code == 0 {
		t.Fatal("method add claims success without an implementation")
	}
}
