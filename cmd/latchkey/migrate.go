package main

import "fmt"

type migrateCmd struct{}

func (c *migrateCmd) Run(a *app) error {
	if _, err := a.database(); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "database is up to date")
	return nil
}
