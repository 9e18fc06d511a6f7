package config

import (
	"fmt"

	"github.com/alecthomas/kong"
)

// Flags is Config as a kong command line embeds it (`embed:""`): the same
// fields and tags without Config's methods, so kong does not run Validate
// while parsing. Each command validates after parsing, because not every
// command needs every setting (`user list` needs no secret).
type Flags Config

// Options are the kong options every Latchkey command line uses: --config
// files are YAML. Add them when building a parser around a struct that
// embeds Config and a kong.ConfigFlag.
func Options() []kong.Option {
	return []kong.Option{kong.Configuration(YAML)}
}

// Parse reads a Config from args, the environment and an optional --config
// file, without validating it. It is the stand-alone entry point for tools
// and tests; cmd/latchkey embeds Config in its own command line instead.
func Parse(args []string) (Config, error) {
	var cli struct {
		File  kong.ConfigFlag `name:"config" help:"YAML configuration file."`
		Flags Flags           `embed:""`
	}
	opts := append(Options(), kong.Name("latchkey"), kong.Exit(func(int) {}))
	p, err := kong.New(&cli, opts...)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if _, err := p.Parse(args); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return Config(cli.Flags), nil
}

// Redacted returns a copy safe to log: secrets and passwords replaced.
func (c Config) Redacted() Config {
	hide := func(s string) string {
		if s == "" {
			return ""
		}
		return "xxxxx"
	}
	c.Secret = hide(c.Secret)
	c.CaptchaSecret = hide(c.CaptchaSecret)
	c.TwilioAuthToken = hide(c.TwilioAuthToken)
	c.Database = redactURL(c.Database)
	c.SMTPURL = redactURL(c.SMTPURL)
	c.TrustedProxies = append([]string(nil), c.TrustedProxies...)
	c.PushNetworks = append([]string(nil), c.PushNetworks...)
	return c
}
