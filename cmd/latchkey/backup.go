package main

import (
	"fmt"

	"github.com/latchkeyid/latchkey/provider/db"
)

type backupCmd struct {
	To string `required:"" help:"New file to write the copy to (never overwritten; created 0600)." placeholder:"FILE"`
}

func (c *backupCmd) Run(a *app) error {
	g, err := a.database()
	if err != nil {
		return err
	}
	if err := db.Backup(a.ctx, g, c.To); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "backed up to %s; restore by pointing LATCHKEY_DATABASE at a copy of it, with the same LATCHKEY_SECRET\n", c.To)
	return nil
}
