package deploy

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

// The subset of the Compose file format docker-compose.yml uses. Decoding
// refuses unknown fields, so a misspelt key (which Compose would reject)
// fails here too, and every new key gets a look in this test.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string            `yaml:"context"`
		Dockerfile string            `yaml:"dockerfile"`
		Args       map[string]string `yaml:"args"`
	} `yaml:"build"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Environment     map[string]string `yaml:"environment"`
	Ports           []string          `yaml:"ports"`
	Volumes         []string          `yaml:"volumes"`
	Healthcheck     *composeHealth    `yaml:"healthcheck"`
	StopGracePeriod string            `yaml:"stop_grace_period"`
	ReadOnly        bool              `yaml:"read_only"`
	CapDrop         []string          `yaml:"cap_drop"`
	SecurityOpt     []string          `yaml:"security_opt"`
	Restart         string            `yaml:"restart"`
}

type composeHealth struct {
	Test        []string `yaml:"test"`
	Interval    string   `yaml:"interval"`
	Timeout     string   `yaml:"timeout"`
	Retries     int      `yaml:"retries"`
	StartPeriod string   `yaml:"start_period"`
}

// exactTag is name:tag where tag names a release (digits in it), not a
// moving one like latest, 11 or lts.
var exactTag = regexp.MustCompile(`^[a-z0-9./_-]+:v?\d+\.\d+\.\d+[a-z0-9.-]*$`)

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.NewDecoder(bytes.NewReader(b), yaml.DisallowUnknownField()).Decode(&f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return f
}

func composeLatchkey(t *testing.T) composeService {
	t.Helper()
	s, ok := loadCompose(t).Services["latchkey"]
	if !ok {
		t.Fatal("docker-compose.yml has no latchkey service")
	}
	return s
}

func TestCompose(t *testing.T) {
	f := loadCompose(t)
	if got := slices.Sorted(maps.Keys(f.Services)); !slices.Equal(got, []string{"latchkey", "mailpit", "mariadb"}) {
		t.Fatalf("services %v", got)
	}
	lk, mdb := f.Services["latchkey"], f.Services["mariadb"]

	t.Run("third-party-images-pinned", func(t *testing.T) {
		for _, name := range []string{"mariadb", "mailpit"} {
			if img := f.Services[name].Image; !exactTag.MatchString(img) {
				t.Errorf("%s: image %q is not pinned to an exact release tag", name, img)
			}
		}
	})
	t.Run("latchkey-built-from-the-dockerfile", func(t *testing.T) {
		if lk.Build == nil || lk.Build.Context != "." || lk.Build.Dockerfile != "deploy/Dockerfile" {
			t.Fatalf("build %+v, want context . and deploy/Dockerfile", lk.Build)
		}
		if _, ok := lk.Build.Args["VERSION"]; !ok {
			t.Error("build passes no VERSION argument")
		}
		if strings.HasSuffix(lk.Image, ":latest") || !strings.Contains(lk.Image, ":") {
			t.Errorf("image %q: name the local build with a tag", lk.Image)
		}
	})
	t.Run("mariadb-healthchecked", func(t *testing.T) {
		if mdb.Healthcheck == nil || len(mdb.Healthcheck.Test) == 0 || !slices.Contains(mdb.Healthcheck.Test, "healthcheck.sh") {
			t.Errorf("mariadb healthcheck %+v", mdb.Healthcheck)
		}
	})
	t.Run("latchkey-waits-for-a-healthy-mariadb", func(t *testing.T) {
		if got := lk.DependsOn["mariadb"].Condition; got != "service_healthy" {
			t.Errorf("depends_on mariadb condition %q, want service_healthy", got)
		}
	})
	t.Run("latchkey-healthchecked-by-its-binary", func(t *testing.T) {
		want := []string{"CMD", "/usr/local/bin/latchkey", "healthcheck"}
		if lk.Healthcheck == nil || !slices.Equal(lk.Healthcheck.Test, want) {
			t.Errorf("latchkey healthcheck %+v, want test %q", lk.Healthcheck, want)
		}
	})
	t.Run("stop-grace-covers-the-drain", func(t *testing.T) {
		grace := duration(t, lk.StopGracePeriod)
		delay, timeout := duration(t, lk.Environment["LATCHKEY_SHUTDOWN_DELAY"]), duration(t, lk.Environment["LATCHKEY_SHUTDOWN_TIMEOUT"])
		if grace <= delay+timeout {
			t.Errorf("stop_grace_period %s <= shutdown delay %s + timeout %s: Docker would kill draining requests", grace, delay, timeout)
		}
	})
	t.Run("ports-on-loopback-only", func(t *testing.T) {
		for name, s := range f.Services {
			for _, p := range s.Ports {
				if !strings.HasPrefix(p, "127.0.0.1:") {
					t.Errorf("%s publishes %q beyond this machine", name, p)
				}
			}
		}
	})
	t.Run("secret-from-the-environment", func(t *testing.T) {
		if s := lk.Environment["LATCHKEY_SECRET"]; !strings.HasPrefix(s, "${LATCHKEY_SECRET:?") {
			t.Errorf("LATCHKEY_SECRET %q: must come from the operator's environment and be required", s)
		}
	})
	t.Run("latchkey-hardened", func(t *testing.T) {
		if !lk.ReadOnly || !slices.Equal(lk.CapDrop, []string{"ALL"}) || !slices.Contains(lk.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("read_only %v cap_drop %v security_opt %v", lk.ReadOnly, lk.CapDrop, lk.SecurityOpt)
		}
	})
}

func duration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return d
}

// TestComposeValidatesWithCompose has Compose itself read the file, the way
// `docker compose up` would before it starts anything: Debian's
// docker-compose validates it without a Docker engine. It must also refuse
// to run without LATCHKEY_SECRET rather than start with an empty one.
func TestComposeValidatesWithCompose(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		if os.Getenv("LATCHKEY_TEST_COMPOSE") == "required" {
			t.Fatal("docker-compose is not installed (apt-get install docker-compose); LATCHKEY_TEST_COMPOSE=required")
		}
		t.Skip("docker-compose not installed (apt-get install docker-compose)")
	}
	run := func(secret string) (string, error) {
		cmd := exec.CommandContext(t.Context(), bin, "--project-directory", "..", "-f", "../docker-compose.yml", "config", "-q") // #nosec G204 -- a test running the found docker-compose on the repository's file
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		if secret != "" {
			cmd.Env = append(cmd.Env, "LATCHKEY_SECRET="+secret)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("c2VjcmV0LW9ubHktZm9yLWEtY29uZmlnLWNoZWNrLTAwMDA="); err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
	out, err := run("")
	if err == nil || !strings.Contains(out, "LATCHKEY_SECRET") {
		t.Fatalf("docker-compose config without LATCHKEY_SECRET: err %v, output %q; want a refusal naming it", err, out)
	}
}
