package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
)

// causalReads makes every read on a Galera node wait until the node has
// applied every write the cluster committed before it (wsrep_sync_wait=1),
// unless the DSN already chose. Replication to the other nodes is
// synchronous but applying it is not: without this, an authorization code
// saved through one node can be missing from another a moment later, and a
// rate-limit count read there can miss admissions made elsewhere. Off a
// cluster nothing is set.
func causalReads(cfg *gomysql.Config) error {
	if _, ok := cfg.Params["wsrep_sync_wait"]; ok {
		return nil
	}
	probe, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return fmt.Errorf("db: open: %w", err)
	}
	defer probe.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var name, on string
	// MySQL has no such variable and answers no row.
	switch err := probe.QueryRowContext(ctx, "SHOW GLOBAL VARIABLES LIKE 'wsrep_on'").Scan(&name, &on); {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("db: connect: %w", err)
	}
	if on == "ON" {
		cfg.Params["wsrep_sync_wait"] = "1"
	}
	return nil
}
