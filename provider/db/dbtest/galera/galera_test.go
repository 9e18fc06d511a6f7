package galera_test

import (
	"database/sql"
	"os"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/db/dbtest/galera"
)

func TestMain(m *testing.M) { os.Exit(galera.Main(m)) }

// TestClusterReplicates: a row written on one node is read on every other,
// and every node counts three members.
func TestClusterReplicates(t *testing.T) {
	c := galera.Get(t)
	t.Logf("cluster started in %v", c.Started)
	urls := c.URLs(t)
	dbs := make([]*sql.DB, len(urls))
	for i, u := range urls {
		d, err := sql.Open("mysql", strings.TrimPrefix(u, "mysql://"))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		dbs[i] = d
	}
	if _, err := dbs[0].Exec("CREATE TABLE t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := dbs[1].Exec("INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	for i, d := range dbs {
		var size string
		var name string
		if err := d.QueryRow("SHOW STATUS LIKE 'wsrep_cluster_size'").Scan(&name, &size); err != nil || size != "3" {
			t.Fatalf("node %d: cluster size %q (%v)", i+1, size, err)
		}
		var n int
		if _, err := d.Exec("SET SESSION wsrep_sync_wait = 1"); err != nil {
			t.Fatal(err)
		}
		if err := d.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 1 {
			t.Fatalf("node %d sees %d rows (%v)", i+1, n, err)
		}
	}
}
