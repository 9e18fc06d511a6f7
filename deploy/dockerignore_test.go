package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// TestDockerignore applies .dockerignore the way the Docker builder does
// (the same pattern matcher): local state and history stay out of the
// build context, and every file the build of ./cmd/latchkey reads (Go
// sources and go:embed files, go.mod, go.sum) stays in.
func TestDockerignore(t *testing.T) {
	f, err := os.Open("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	excluded := func(path string) bool {
		ok, err := pm.MatchesOrParentMatches(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return ok
	}

	for _, path := range []string{
		".git/HEAD", ".git/objects/pack/x.pack",
		"latchkey-data/secret", "latchkey-data/latchkey.db", // dev mode's generated secret and database
		"cmd/latchkey/latchkey-data/secret", // dev mode started from another directory
		"latchkey.db", ".env", "latchkey",
	} {
		if !excluded(path) {
			t.Errorf("%s would be sent to the builder", path)
		}
	}

	// What the image build needs, from the toolchain itself.
	out, err := exec.Command("go", "list", "-deps", "-f",
		`{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .GoFiles}}|{{.}}{{end}}{{range .EmbedFiles}}|{{.}}{{end}}{{end}}{{end}}`,
		"../cmd/latchkey").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	needed := []string{"go.mod", "go.sum"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.Split(line, "|")
		dir, err := filepath.Rel(root, parts[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range parts[1:] {
			needed = append(needed, filepath.ToSlash(filepath.Join(dir, file)))
		}
	}
	if len(needed) < 50 {
		t.Fatalf("go list found only %d files: %q", len(needed), needed)
	}
	for _, path := range needed {
		if excluded(path) {
			t.Errorf("%s is needed by the build but excluded from the context", path)
		}
	}
}
