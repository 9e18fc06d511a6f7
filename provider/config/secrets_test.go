package config_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/config"
)

// base64-32 candidates on a line that mentions a secret (LATCHKEY_SECRET=...,
// secret: ... in YAML, Secret: "..." in Go).
var (
	secretLine = regexp.MustCompile(`(?i)secret`)
	b64Token   = regexp.MustCompile(`(^|[^A-Za-z0-9+/_=-])([A-Za-z0-9+/_-]{43}=?)($|[^A-Za-z0-9+/_=-])`)
	// Random keys mix cases and digits; identifiers and prose do not.
	mixed = []*regexp.Regexp{regexp.MustCompile(`[A-Z]`), regexp.MustCompile(`[a-z]`), regexp.MustCompile(`[0-9]`)}
)

// Checklist 66: no key that appears in the source tree, the docs or the
// deploy samples is accepted as LATCHKEY_SECRET outside dev mode.
func TestNoUnlistedSecretInTree(t *testing.T) {
	root := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	found := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if name == ".git" || name == "latchkey-data" || name == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if name == "go.sum" || !textFile(name) {
			return nil
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.IndexByte(body, 0) >= 0 {
			return nil // a binary (for example a locally built ./latchkey)
		}
		for i, line := range strings.Split(string(body), "\n") {
			if !secretLine.MatchString(line) {
				continue
			}
			for _, m := range b64Token.FindAllStringSubmatch(line, -1) {
				tok := m[2]
				if !mixedCase(tok) {
					continue
				}
				c := prodWith(tok)
				if c.Validate() == nil && !config.IsExampleSecret(tok) {
					t.Errorf("%s:%d: %q is accepted as LATCHKEY_SECRET; add it to exampleSecrets", path, i+1, tok)
				}
				found++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatal("scanned the tree but found no example secret at all; the scan is broken")
	}
}

func prodWith(s string) config.Config {
	c := prod()
	c.Secret = s
	return c
}

func mixedCase(s string) bool {
	for _, re := range mixed {
		if !re.MatchString(s) {
			return false
		}
	}
	return true
}

func textFile(name string) bool {
	switch filepath.Ext(name) {
	case ".go", ".md", ".yaml", ".yml", ".env", ".conf", ".txt", ".html", ".sh", ".json", "":
		return true
	}
	return false
}
