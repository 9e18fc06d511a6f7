package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/latchkeyid/latchkey/provider/cachever"
	"github.com/latchkeyid/latchkey/provider/keys"
	"github.com/latchkeyid/latchkey/provider/opaque"
)

type keysCmd struct {
	List   keysListCmd   `cmd:"" help:"List signing keys (never shows private material)."`
	Rotate keysRotateCmd `cmd:"" help:"Add a new signing key, published at once and signing after LATCHKEY_KEY_PUBLISH_LEAD (15m); the old public key stays in JWKS until its tokens have expired."`
	// Named with the keys: it chooses how the secret's opaque-token key is used.
	OpaqueFormat keysOpaqueFormatCmd `cmd:"" name:"opaque-format" help:"Show or set the format every instance mints opaque access tokens and codes in: jwe (every release opens it) or lk2 (faster; set it once every instance runs this release)."`
}

// opaqueFormats names provider/opaque's formats for the operator.
var opaqueFormats = map[string]opaque.Format{"jwe": opaque.FormatJWE, "lk2": opaque.FormatLK2}

type keysOpaqueFormatCmd struct {
	Format string `arg:"" optional:"" help:"jwe or lk2; without it, show the current one."`
}

func (c *keysOpaqueFormatCmd) Run(a *app) error {
	g, err := a.database()
	if err != nil {
		return err
	}
	if c.Format == "" {
		v, err := cachever.Get(a.ctx, g, cachever.OpaqueFormat)
		if err != nil {
			return err
		}
		name := "jwe"
		if opaque.Format(v) >= opaque.FormatLK2 {
			name = "lk2"
		}
		fmt.Fprintf(a.stdout, "opaque tokens and codes are minted as %s\n", name)
		return nil
	}
	f, ok := opaqueFormats[c.Format]
	if !ok {
		return usageError{fmt.Errorf("unknown format %q: jwe or lk2", c.Format)}
	}
	if err := cachever.Set(g.WithContext(a.ctx), cachever.OpaqueFormat, int64(f)); err != nil {
		return err
	}
	a.audit("admin.keys.opaque-format", "", "ok", "format="+c.Format)
	fmt.Fprintf(a.stdout, "running instances mint opaque tokens and codes as %s within %s; every format stays readable\n",
		c.Format, cachever.DefaultEvery)
	return nil
}

type keysListCmd struct{}

func (c *keysListCmd) Run(a *app) error {
	m, err := a.keyManager()
	if err != nil {
		return err
	}
	list, err := m.List(a.ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KID\tALG\tGEN\tSTATE\tCREATED\tSIGNS FROM\tRETIRED\tUNPUBLISHED AFTER")
	for _, k := range list {
		state := "retired"
		switch {
		case k.Pending:
			state = "next"
		case k.Active:
			state = "signing"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", k.KID, k.Alg, k.Generation, state,
			stamp(k.CreatedAt), stamp(k.NotBefore), stampPtr(k.RetireAt), stampPtr(k.ExpiresAt))
	}
	return w.Flush()
}

type keysRotateCmd struct {
	Alg []string `enum:"RS256,ES256" default:"RS256,ES256" help:"Algorithms to rotate (each has its own signing key)."`
}

func (c *keysRotateCmd) Run(a *app) error {
	m, err := a.keyManager()
	if err != nil {
		return err
	}
	for _, alg := range c.Alg {
		info, err := m.Rotate(a.ctx, keys.Alg(alg))
		if err != nil {
			return fmt.Errorf("rotate %s: %w", alg, err)
		}
		a.audit("admin.keys.rotate", "", "ok", fmt.Sprintf("alg=%s kid=%s", alg, info.KID))
		fmt.Fprintf(a.stdout, "%s signs with %s (generation %d) from %s; the current key signs until then\n",
			alg, info.KID, info.Generation, stamp(info.NotBefore))
	}
	fmt.Fprintf(a.stdout, "running instances publish the new keys within %s and sign with them after %s\n",
		a.cfg.KeyRefresh, a.cfg.KeyPublishLead)
	return nil
}

// keyManager opens the signing keys, creating the first ones if needed.
func (a *app) keyManager() (*keys.Manager, error) {
	k, err := a.keyring()
	if err != nil {
		return nil, err
	}
	g, err := a.database()
	if err != nil {
		return nil, err
	}
	m := keys.New(g, k, a.keyOptions()...)
	if err := m.Ensure(a.ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// keyOptions are the key manager settings of every command.
func (a *app) keyOptions() []keys.Option {
	return []keys.Option{keys.WithRetention(a.keyRetention()), keys.WithPublishLead(a.cfg.KeyPublishLead),
		keys.WithRefreshEvery(a.cfg.KeyRefresh)}
}

// keyRetention keeps a retired key published for at least a day and at
// least as long as the longest token it can have signed, plus an hour for
// id_token_hint at logout.
func (a *app) keyRetention() time.Duration {
	return max(keys.DefaultRetention, a.cfg.IDTokenLifetime+time.Hour, a.cfg.AccessTokenLifetime+time.Hour)
}

func stampPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return stamp(*t)
}
