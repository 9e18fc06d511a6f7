package deploy

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/latchkeyid/latchkey/provider/config"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// knownSettings is every LATCHKEY_* variable the binary reads.
func knownSettings() map[string]bool {
	known := map[string]bool{}
	t := reflect.TypeFor[config.Config]()
	for i := range t.NumField() {
		if env := t.Field(i).Tag.Get("env"); env != "" {
			known[env] = true
		}
	}
	return known
}

// checkSettings fails on a setting the binary does not know (the binary
// would silently ignore a misspelt variable) and validates the rest with
// the binary's own parser and Validate, as serve would at start.
func checkSettings(t *testing.T, where string, env map[string]string) {
	t.Helper()
	known := knownSettings()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "LATCHKEY_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		if !known[k] {
			t.Errorf("%s sets %s, which latchkey does not read", where, k)
		}
		t.Setenv(k, v)
	}
	cfg, err := config.Parse(nil)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("%s: serve would refuse to start:\n%v", where, err)
	}
}

// The operator's Secret, as the instructions beside the manifests create it.
func operatorSecret() map[string]string {
	return map[string]string{
		"LATCHKEY_SECRET":   secret.Generate(),
		"LATCHKEY_DATABASE": "mysql://latchkey:pw@tcp(mariadb:3306)/latchkey",
		"LATCHKEY_SMTP_URL": "smtp://user:pw@smtp.example.com:587?from=no-reply@example.com",
	}
}

func TestSettingsKubernetes(t *testing.T) {
	m := loadManifests(t)
	env := operatorSecret()
	for k, v := range m.configMap.Data {
		env[k] = v
	}
	checkSettings(t, "the ConfigMap", env)
}

func TestSettingsCompose(t *testing.T) {
	env := map[string]string{}
	for k, v := range composeLatchkey(t).Environment {
		if strings.HasPrefix(v, "${") {
			v = secret.Generate() // the operator's LATCHKEY_SECRET
		}
		env[k] = v
	}
	checkSettings(t, "docker-compose.yml", env)
}

func TestSettingsDockerfile(t *testing.T) {
	// The image's own defaults, with only the secret added.
	env := map[string]string{"LATCHKEY_SECRET": secret.Generate()}
	for _, s := range dockerfile(t)[1:] {
		for _, e := range commands[*instructions.EnvCommand](s) {
			for _, kv := range e.Env {
				env[kv.Key] = strings.Trim(kv.Value, `"`)
			}
		}
	}
	checkSettings(t, "the Dockerfile's ENV", env)
}
