// Package galera starts a three-node MariaDB Galera cluster on loopback for
// the tests of one package: node 1 bootstraps the cluster, nodes 2 and 3
// join it by an rsync state transfer, each on ports of its own with its
// data in a temporary directory. The cluster starts on the first Get and
// stops when Main's tests end.
//
// It needs Debian's mariadb-server and galera-4 (mariadbd, mariadb-install-db,
// /usr/lib/galera/libgalera_smm.so) and rsync. Without them Get skips the
// test, unless LATCHKEY_TEST_GALERA=required (CI), where it fails.
package galera

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
)

// Provider is where Debian's galera-4 installs the replication library.
const Provider = "/usr/lib/galera/libgalera_smm.so"

// Required reports whether CI demands the cluster.
func Required() bool { return os.Getenv("LATCHKEY_TEST_GALERA") == "required" }

// Cluster is a running three-node cluster.
type Cluster struct {
	// Addrs are the nodes' SQL addresses (host:port), node 1 first.
	Addrs   []string
	Started time.Duration // how long the cluster took to start
	dir     string
	nodes   []*node
}

type node struct {
	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

var (
	once    sync.Once
	shared  *Cluster
	errBoot error
	skip    string
)

// Main runs the package's tests and stops the cluster if one started:
//
//	func TestMain(m *testing.M) { os.Exit(galera.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	return code
}

// Get returns the package's cluster, starting it on first use.
func Get(t testing.TB) *Cluster {
	t.Helper()
	once.Do(func() {
		if skip = missing(); skip != "" {
			return
		}
		shared, errBoot = start()
	})
	switch {
	case skip != "" && Required():
		t.Fatalf("galera: required (LATCHKEY_TEST_GALERA=required) but %s", skip)
	case skip != "":
		t.Skipf("galera: %s (set LATCHKEY_TEST_GALERA=required to fail instead)", skip)
	case errBoot != nil:
		t.Fatalf("galera: %v", errBoot)
	}
	return shared
}

// URLs creates a fresh database on the cluster and returns one Latchkey
// database URL per node, node 1 first; the database is dropped when the
// test ends.
func (c *Cluster) URLs(t testing.TB) []string {
	t.Helper()
	admin, err := sql.Open("mysql", dsn(c.Addrs[0], ""))
	if err != nil {
		t.Fatal(err)
	}
	name := "latchkey_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4"); err != nil {
		_ = admin.Close()
		t.Fatalf("galera: create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			t.Logf("galera: drop %s: %v", name, err)
		}
		_ = admin.Close()
	})
	urls := make([]string, len(c.Addrs))
	for i, a := range c.Addrs {
		urls[i] = "mysql://" + dsn(a, name)
	}
	return urls
}

func dsn(addr, dbName string) string {
	cfg := gomysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName = "root", "tcp", addr, dbName
	return cfg.FormatDSN()
}

// missing says what this machine lacks to run a cluster, or "".
func missing() string {
	for _, bin := range []string{"mariadbd", "mariadb-install-db", "rsync", "wsrep_sst_rsync"} {
		if _, err := lookPath(bin); err != nil {
			return bin + " is not installed (apt-get install mariadb-server galera-4 rsync)"
		}
	}
	if _, err := os.Stat(Provider); err != nil {
		return Provider + " is missing (apt-get install galera-4)"
	}
	return ""
}

// lookPath also searches the sbin directories, which a user's PATH may lack.
func lookPath(bin string) (string, error) {
	if p, err := exec.LookPath(bin); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(d, bin); isExec(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", bin)
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&0o111 != 0
}

const nodes = 3

func start() (*Cluster, error) {
	began := time.Now()
	dir, err := os.MkdirTemp("", "latchkey-galera-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	// mariadbd refuses to run as root; as root the nodes run as mysql,
	// and the rsync daemon of a state transfer then writes as mysql too.
	runAs := ""
	if os.Geteuid() == 0 {
		runAs = "mysql"
		if err := chownTree(dir, runAs); err != nil {
			c.stop()
			return nil, err
		}
	}
	ports := make([][4]int, nodes) // SQL, group communication, IST, SST
	for i := range ports {
		for j := range ports[i] {
			if ports[i][j], err = freePort(); err != nil {
				c.stop()
				return nil, err
			}
		}
	}
	var peers []string
	for _, p := range ports {
		peers = append(peers, "127.0.0.1:"+strconv.Itoa(p[1]))
	}
	cnfs := make([]string, nodes)
	for i, p := range ports {
		nd := filepath.Join(dir, "node"+strconv.Itoa(i+1))
		if err := os.MkdirAll(filepath.Join(nd, "data"), 0o750); err != nil {
			c.stop()
			return nil, err
		}
		cnfs[i] = filepath.Join(nd, "my.cnf")
		if err := os.WriteFile(cnfs[i], []byte(config(nd, i+1, p, peers, runAs)), 0o600); err != nil {
			c.stop()
			return nil, err
		}
		c.Addrs = append(c.Addrs, "127.0.0.1:"+strconv.Itoa(p[0]))
	}
	if runAs != "" {
		if err := chownTree(dir, runAs); err != nil {
			c.stop()
			return nil, err
		}
	}
	install, _ := lookPath("mariadb-install-db")
	args := []string{"--defaults-file=" + cnfs[0], "--auth-root-authentication-method=normal", "--skip-test-db"}
	if out, err := exec.Command(install, args...).CombinedOutput(); err != nil { // #nosec G204 -- the test's own tool and files
		c.stop()
		return nil, fmt.Errorf("mariadb-install-db: %v\n%s", err, out)
	}
	if err := c.startNode(cnfs[0], "--wsrep-new-cluster"); err != nil {
		c.stop()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.waitSynced(ctx, 0); err != nil {
		c.stop()
		return nil, err
	}
	// Both join at once; node 1 donates to each in turn.
	for i := 1; i < nodes; i++ {
		if err := c.startNode(cnfs[i]); err != nil {
			c.stop()
			return nil, err
		}
	}
	for i := 1; i < nodes; i++ {
		if err := c.waitSynced(ctx, i); err != nil {
			c.stop()
			return nil, err
		}
	}
	c.Started = time.Since(began)
	return c, nil
}

// config is one node's my.cnf: small buffers, no durability flush (a test
// cluster), and Galera's required row binlog and interleaved auto-increment.
func config(dir string, n int, p [4]int, peers []string, runAs string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[mysqld]\n")
	if runAs != "" {
		fmt.Fprintf(&b, "user=%s\n", runAs)
	}
	fmt.Fprintf(&b, `datadir=%[1]s/data
socket=%[1]s/mysqld.sock
pid-file=%[1]s/mysqld.pid
log-error=%[1]s/error.log
port=%[2]d
bind-address=127.0.0.1
performance_schema=OFF
innodb_buffer_pool_size=64M
innodb_log_file_size=16M
innodb_flush_log_at_trx_commit=0
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
max_connections=500
wsrep_on=ON
wsrep_provider=%[3]s
wsrep_cluster_name=latchkey-test
wsrep_cluster_address=gcomm://%[4]s
wsrep_node_name=node%[5]d
wsrep_node_address=127.0.0.1:%[6]d
wsrep_provider_options="base_port=%[6]d;gmcast.listen_addr=tcp://127.0.0.1:%[6]d;ist.recv_addr=127.0.0.1:%[7]d;gcache.size=32M"
wsrep_sst_receive_address=127.0.0.1:%[8]d
wsrep_sst_method=rsync
`, dir, p[0], Provider, strings.Join(peers, ","), n, p[1], p[2], p[3])
	return b.String()
}

func (c *Cluster) startNode(cnf string, extra ...string) error {
	bin, _ := lookPath("mariadbd")
	cmd := exec.Command(bin, append([]string{"--defaults-file=" + cnf}, extra...)...) // #nosec G204 -- the test's own server and config
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}                // a killed test leaves no server behind
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cnf, err)
	}
	nd := &node{cmd: cmd, exited: make(chan struct{}), log: filepath.Join(filepath.Dir(cnf), "error.log")}
	go func() { _ = cmd.Wait(); close(nd.exited) }()
	c.nodes = append(c.nodes, nd)
	return nil
}

// waitSynced waits until node i answers and reports itself synced with
// the cluster.
func (c *Cluster) waitSynced(ctx context.Context, i int) error {
	db, err := sql.Open("mysql", dsn(c.Addrs[i], ""))
	if err != nil {
		return err
	}
	defer db.Close()
	for {
		var name, state string
		err := db.QueryRowContext(ctx, "SHOW STATUS LIKE 'wsrep_local_state_comment'").Scan(&name, &state)
		if err == nil && state == "Synced" {
			return nil
		}
		select {
		case <-c.nodes[i].exited:
			return fmt.Errorf("node %d exited while starting:\n%s", i+1, tail(c.nodes[i].log))
		case <-ctx.Done():
			return fmt.Errorf("node %d not synced (%v, state %q):\n%s", i+1, err, state, tail(c.nodes[i].log))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends every node (the joiners first, so node 1 leaves last) and
// removes the data.
func (c *Cluster) stop() {
	for i := len(c.nodes) - 1; i >= 0; i-- {
		nd := c.nodes[i]
		_ = nd.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-nd.exited:
		case <-time.After(30 * time.Second):
			_ = nd.cmd.Process.Kill()
			<-nd.exited
		}
	}
	_ = os.RemoveAll(c.dir)
}

func tail(path string) string {
	b, err := os.ReadFile(path) // #nosec G304 -- the node's own log in the test's directory
	if err != nil {
		return err.Error()
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func chownTree(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("galera: running as root needs the %s user: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chmod(dir, 0o750); err != nil { // #nosec G302 -- the server's user must enter it
		return err
	}
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid) // #nosec G122 -- the test's own fresh temporary directory; Lchown follows no link
	})
}
