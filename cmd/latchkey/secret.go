package main

import (
	"errors"
	"fmt"

	"github.com/latchkeyid/latchkey/cmd/latchkey/internal/rekey"
)

type secretCmd struct {
	Rotate secretRotateCmd `cmd:"" help:"Re-seal every stored secret from LATCHKEY_SECRET_PREVIOUS to LATCHKEY_SECRET (resumable: run it again after an interruption)."`
}

type secretRotateCmd struct {
	Batch int `default:"200" help:"Rows re-sealed per transaction."`
}

func (c *secretRotateCmd) Run(a *app) error {
	if a.cfg.SecretPrevious == "" {
		return usageError{errors.New("secret rotate: set LATCHKEY_SECRET to the new secret and LATCHKEY_SECRET_PREVIOUS to the old one")}
	}
	k, err := a.keyring()
	if err != nil {
		return err
	}
	g, err := a.database()
	if err != nil {
		return err
	}
	next, prev := k.Current(), k.Previous()
	if prev == nil { // WithPrevious drops a previous secret equal to the current one
		return usageError{errors.New("secret rotate: LATCHKEY_SECRET_PREVIOUS is the same secret as LATCHKEY_SECRET")}
	}
	reps, err := rekey.Rotate(a.ctx, g, next, prev, rekey.Options{Batch: c.Batch})
	for _, r := range reps {
		state := "done"
		if !r.Done {
			state = "interrupted"
		}
		fmt.Fprintf(a.stdout, "%-20s re-sealed %d, already under the new secret %d, %s\n", r.Target, r.Resealed, r.Skipped, state)
	}
	if err != nil {
		a.audit("admin.secret.rotate", "", "failed", err.Error())
		return fmt.Errorf("secret rotate: %w (run it again to continue)", err)
	}
	a.audit("admin.secret.rotate", "", "ok", "to="+next.Fingerprint())
	fmt.Fprintln(a.stdout, "every stored secret is sealed under LATCHKEY_SECRET.")
	fmt.Fprintln(a.stdout, "keep LATCHKEY_SECRET_PREVIOUS set until codes, flows and sessions made before the switch have expired")
	fmt.Fprintln(a.stdout, "(a day covers them) and every confidential client has authenticated once; then unset it and restart.")
	return nil
}
