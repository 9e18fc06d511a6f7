package deploy

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

const (
	runtimeImage = "gcr.io/distroless/static-debian12:nonroot"
	nonrootUID   = "65532" // "nonroot" in the distroless image
)

// dockerfile parses deploy/Dockerfile with BuildKit's own parser, failing
// on every warning BuildKit's checks raise at parse time (the linter rules
// `docker build --check` applies to each instruction).
func dockerfile(t *testing.T) []instructions.Stage {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("parse Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile:%d: %s", w.Location.Start.Line, w.Short)
	}
	lint := linter.New(&linter.Config{ExperimentalAll: true, Warn: func(rule, _, _, msg string, loc []parser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		t.Errorf("Dockerfile:%d: %s: %s", line, rule, msg)
	}})
	stages, _, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("Dockerfile instructions: %v", err)
	}
	return stages
}

func commands[T any](s instructions.Stage) []T {
	var out []T
	for _, c := range s.Commands {
		if v, ok := c.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// declaresArg reports whether stage s declares ARG name before the command
// at index upTo (build arguments are scoped to the stage that declares them).
func declaresArg(s instructions.Stage, name string, upTo int) bool {
	for _, c := range s.Commands[:upTo] {
		if a, ok := c.(*instructions.ArgCommand); ok {
			for _, kv := range a.Args {
				if kv.Key == name {
					return true
				}
			}
		}
	}
	return false
}

// goBuildRun is the RUN of the build stage that builds the binary, and its
// index among the stage's commands.
func goBuildRun(t *testing.T, s instructions.Stage) (string, int) {
	t.Helper()
	for i, c := range s.Commands {
		if r, ok := c.(*instructions.RunCommand); ok && strings.Contains(strings.Join(r.CmdLine, " "), "go build") {
			return strings.Join(r.CmdLine, " "), i
		}
	}
	t.Fatal("no RUN with go build in the build stage")
	return "", 0
}

var versionLDFlag = regexp.MustCompile(`-X main\.version=\$\{?VERSION\}?`)

func TestDockerfile(t *testing.T) {
	stages := dockerfile(t)
	if len(stages) != 2 {
		t.Fatalf("%d stages, want 2 (build, runtime)", len(stages))
	}
	build, final := stages[0], stages[1]
	goVersion := goModVersion(t)

	t.Run("build-stage-matches-go-mod", func(t *testing.T) {
		want := "golang:" + goVersion + "-"
		if !strings.HasPrefix(build.BaseName, want) {
			t.Errorf("build stage FROM %s, want %s… (go.mod says go %s)", build.BaseName, want, goVersion)
		}
	})
	t.Run("images-pinned", func(t *testing.T) {
		for _, s := range stages {
			if !strings.Contains(s.BaseName, ":") || strings.HasSuffix(s.BaseName, ":latest") {
				t.Errorf("FROM %s is not pinned to a tag", s.BaseName)
			}
		}
	})
	t.Run("static-build", func(t *testing.T) {
		cmd, _ := goBuildRun(t, build)
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/latchkey"} {
			if !strings.Contains(cmd, want) {
				t.Errorf("go build RUN lacks %q: %s", want, cmd)
			}
		}
	})
	t.Run("version-build-arg-reaches-the-binary", func(t *testing.T) {
		cmd, i := goBuildRun(t, build)
		if !versionLDFlag.MatchString(cmd) {
			t.Errorf("go build does not inject VERSION with -X main.version: %s", cmd)
		}
		if !declaresArg(build, "VERSION", i) {
			t.Error("the build stage uses VERSION without declaring ARG VERSION before it")
		}
	})
	t.Run("runtime-is-distroless-nonroot", func(t *testing.T) {
		if final.BaseName != runtimeImage {
			t.Errorf("runtime FROM %s, want %s", final.BaseName, runtimeImage)
		}
		users := commands[*instructions.UserCommand](final)
		if len(users) == 0 {
			t.Fatal("no USER in the runtime stage")
		}
		u, _, _ := strings.Cut(users[len(users)-1].User, ":")
		if u != nonrootUID && u != "nonroot" {
			t.Errorf("USER %s, want %s (nonroot)", users[len(users)-1].User, nonrootUID)
		}
		for _, r := range commands[*instructions.RunCommand](final) {
			t.Errorf("RUN in the runtime stage (distroless has no shell): %v", r.CmdLine)
		}
	})
	t.Run("oci-version-label-from-build-arg", func(t *testing.T) {
		found := false
		for i, c := range final.Commands {
			l, ok := c.(*instructions.LabelCommand)
			if !ok {
				continue
			}
			for _, kv := range l.Labels {
				if kv.Key == "org.opencontainers.image.version" {
					found = true
					if v := strings.Trim(kv.Value, `"`); v != "${VERSION}" && v != "$VERSION" {
						t.Errorf("org.opencontainers.image.version=%q, want ${VERSION}", kv.Value)
					}
					if !declaresArg(final, "VERSION", i) {
						t.Error("the runtime stage's label uses VERSION without its own ARG VERSION (it would be empty)")
					}
				}
			}
		}
		if !found {
			t.Error("no org.opencontainers.image.version label")
		}
	})
	t.Run("healthcheck-runs-the-binary", func(t *testing.T) {
		hcs := commands[*instructions.HealthCheckCommand](final)
		if len(hcs) != 1 {
			t.Fatalf("%d HEALTHCHECKs, want 1", len(hcs))
		}
		want := []string{"CMD", "/usr/local/bin/latchkey", "healthcheck"}
		if got := hcs[0].Health.Test; !slices.Equal(got, want) {
			t.Errorf("HEALTHCHECK %q, want %q (exec form: no shell in the image)", got, want)
		}
	})
	t.Run("entrypoint-is-the-binary", func(t *testing.T) {
		eps := commands[*instructions.EntrypointCommand](final)
		if len(eps) != 1 || eps[0].PrependShell || !slices.Equal(eps[0].CmdLine, []string{"/usr/local/bin/latchkey"}) {
			t.Errorf("ENTRYPOINT %+v, want exec form [/usr/local/bin/latchkey]", eps)
		}
	})
}

// goModVersion is the go directive of the module's go.mod.
func goModVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

// TestBinaryBuiltLikeTheDockerfile runs the Dockerfile's own go build
// command line (read from the file, only the output path changed) with a
// VERSION, then checks that the binary prints that version, is static (no
// ELF interpreter, no shared libraries: it runs on distroless static), and
// that its healthcheck fails where nothing listens.
func TestBinaryBuiltLikeTheDockerfile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	stages := dockerfile(t)
	cmd, _ := goBuildRun(t, stages[0])
	out := filepath.Join(t.TempDir(), "latchkey")
	if !strings.Contains(cmd, "-o /out/latchkey") {
		t.Fatalf("go build does not write /out/latchkey: %s", cmd)
	}
	cmd = strings.Replace(cmd, "-o /out/latchkey", "-o '"+out+"'", 1)
	const version = "v0.0.0-dockerfile-test"
	sh := exec.Command("sh", "-ec", cmd)
	sh.Dir = ".." // the build context is the repository root
	sh.Env = append(os.Environ(), "VERSION="+version)
	if b, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}

	got, err := exec.Command(out, "version").Output()
	if err != nil || string(got) != "latchkey "+version+"\n" {
		t.Errorf("latchkey version: %q (%v), want %q", got, err, "latchkey "+version+"\n")
	}

	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary has a %s program header: it is not static", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary needs shared libraries %v", libs)
	}
	if fileCmd, err := exec.LookPath("file"); err == nil {
		b, _ := exec.Command(fileCmd, out).Output()
		if !bytes.Contains(b, []byte("statically linked")) {
			t.Errorf("file: %s", b)
		}
	}

	hc := exec.Command(out, "healthcheck", "--addr", "127.0.0.1:1", "--timeout", "2s")
	if err := hc.Run(); hc.ProcessState == nil || hc.ProcessState.ExitCode() != 1 {
		t.Errorf("healthcheck with nothing listening: %v, want exit 1", err)
	}
}
