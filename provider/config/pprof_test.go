package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/config"
	"github.com/latchkeyid/latchkey/provider/secret"
)

func TestPprofListen(t *testing.T) {
	tests := []struct {
		name    string
		dev     bool
		listen  string
		want    string // effective address
		invalid string // part of the validation message, "" when valid
	}{
		{"off-by-default", false, "", "", ""},
		{"dev-default-loopback", true, "", config.DevPprofListen, ""},
		{"dev-off", true, "off", "", ""},
		{"explicit", false, "127.0.0.1:7070", "127.0.0.1:7070", ""},
		{"explicit-port-only", false, ":7070", ":7070", ""},
		{"not-an-address", false, "localhost", "localhost", "must be host:port"},
		{"same-as-public", false, ":8080", ":8080", "must differ from LATCHKEY_LISTEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Defaults()
			c.Dev, c.PprofListen = tt.dev, tt.listen
			c.Issuer, c.Secret = "https://id.example.com", secret.Generate()
			if got := c.EffectivePprofListen(); got != tt.want {
				t.Errorf("EffectivePprofListen() = %q, want %q", got, tt.want)
			}
			err := c.Validate()
			var pprofErr string
			for _, e := range unwrapAll(err) {
				var p *config.Problem
				if errors.As(e, &p) && p.Var == "LATCHKEY_PPROF_LISTEN" {
					pprofErr = p.Msg
				}
			}
			switch {
			case tt.invalid == "" && pprofErr != "":
				t.Errorf("valid address refused: %s", pprofErr)
			case tt.invalid != "" && !strings.Contains(pprofErr, tt.invalid):
				t.Errorf("LATCHKEY_PPROF_LISTEN problem = %q, want %q (all: %v)", pprofErr, tt.invalid, err)
			}
		})
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}
