package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/alecthomas/kong"
	"github.com/goccy/go-yaml"
)

// YAML is a kong.ConfigurationLoader for --config files. Keys are the flag
// names (smtp-url), with underscores (smtp_url) or the environment variable
// names (LATCHKEY_SMTP_URL); values are scalars or, for list settings such
// as trusted-proxies, YAML sequences.
//
// Precedence is flags > environment > file > defaults: kong applies a
// resolver over environment values, so the resolver steps aside for any
// setting whose environment variable is present.
func YAML(r io.Reader) (kong.Resolver, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("config: read file: %w", err)
	}
	doc := map[string]any{}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("config: file is not a YAML mapping: %w", err)
	}
	values := make(map[string]any, len(doc))
	for k, v := range doc {
		key := fileKey(k)
		if _, dup := values[key]; dup {
			return nil, fmt.Errorf("config: file sets %q twice", key)
		}
		values[key] = v
	}
	return &yamlResolver{values: values}, nil
}

type yamlResolver struct{ values map[string]any }

// fileKey maps LATCHKEY_SMTP_URL, smtp_url and smtp-url to smtp-url.
func fileKey(k string) string {
	k = strings.ToLower(strings.TrimSpace(k))
	k = strings.TrimPrefix(k, "latchkey_")
	return strings.ReplaceAll(k, "_", "-")
}

// Validate rejects keys that name no flag, all at once, so a typo in the file
// is an error rather than a silently ignored setting.
func (r *yamlResolver) Validate(app *kong.Application) error {
	known := map[string]bool{}
	for _, f := range app.Flags {
		known[f.Name] = true
	}
	var unknown []string
	for k := range r.values {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("config: unknown key(s) in file: %s", strings.Join(unknown, ", "))
}

func (r *yamlResolver) Resolve(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
	v, ok := r.values[flag.Name]
	if !ok || v == nil {
		return nil, nil
	}
	for _, env := range flag.Envs {
		if _, set := os.LookupEnv(env); set {
			return nil, nil // the environment wins over the file
		}
	}
	switch v := v.(type) {
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			s, err := scalar(e)
			if err != nil {
				return nil, fmt.Errorf("config: %s: %w", flag.Name, err)
			}
			parts = append(parts, s)
		}
		sep := ","
		if flag.Tag != nil && flag.Tag.Sep != 0 && flag.Tag.Sep != -1 {
			sep = string(flag.Tag.Sep)
		}
		return strings.Join(parts, sep), nil
	default:
		s, err := scalar(v)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %w", flag.Name, err)
		}
		return s, nil
	}
}

// scalar renders a YAML scalar as the text a flag would carry, so every
// value goes through the same kong parser as the command line.
func scalar(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool, int, int64, uint64, uint, int32, uint32, float64:
		return fmt.Sprint(v), nil
	default:
		return "", errors.New("expected a scalar value")
	}
}
