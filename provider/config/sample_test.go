package config_test

import (
	"path/filepath"
	"testing"

	"github.com/latchkeyid/latchkey/provider/config"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// The sample file in deploy/ must stay loadable and, with a real secret
// from the environment, valid.
func TestSampleConfigIsValid(t *testing.T) {
	clearEnv(t)
	t.Setenv("LATCHKEY_SECRET", secret.Generate())
	c, err := config.Parse([]string{"--config", filepath.Join("..", "..", "deploy", "latchkey.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("deploy/latchkey.yaml: %v", err)
	}
	if c.Issuer != "https://id.example.com" || len(c.TrustedProxies) != 1 {
		t.Fatalf("sample not read: %+v", c.Redacted())
	}
}
