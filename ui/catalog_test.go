package ui

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/latchkeyid/latchkey/ui/i18n"
	"github.com/latchkeyid/latchkey/ui/locales"
)

// areas are the catalogs, one file per area and language.
var areas = []string{"common", "signin", "errors", "mail", "authenticator",
	"recover", "verify", "securityinfo", "method", "look", "report", "invalid", "demo", "notice", "question", "console", "consoleusers", "consoleops"}

// pluralForms are the keys of a message with plural forms.
var pluralForms = []string{"zero", "one", "two", "few", "many", "other"}

// catalogKeys reads every catalog: area → lang → message ID → forms ("" for
// a plain message).
func catalogKeys(t *testing.T) map[string]map[string]map[string][]string {
	t.Helper()
	files, err := fs.Glob(locales.FS, "*")
	if err != nil {
		t.Fatal(err)
	}
	langs := map[string]bool{}
	for _, l := range i18n.Languages() {
		langs[l.Tag] = true
	}
	out := map[string]map[string]map[string][]string{}
	for _, f := range files {
		if f == "locales.go" {
			continue
		}
		parts := strings.Split(f, ".")
		if len(parts) != 3 || parts[2] != "toml" || !slices.Contains(areas, parts[0]) || !langs[parts[1]] {
			t.Errorf("catalog %s: want <area>.<lang>.toml with area in %v and a supported language", f, areas)
			continue
		}
		area, lang := parts[0], parts[1]
		var raw map[string]any
		b, _ := fs.ReadFile(locales.FS, f)
		if _, err := toml.Decode(string(b), &raw); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		keys := map[string][]string{}
		for id, v := range raw {
			if !strings.HasPrefix(id, area+".") {
				t.Errorf("%s: key %q is not in area %s (quote every key so its dots do not nest)", f, id, area)
			}
			switch v := v.(type) {
			case string:
				keys[id] = nil
			case map[string]any:
				for form := range v {
					if !slices.Contains(pluralForms, form) {
						t.Errorf("%s: %q has %q, not a plural form", f, id, form)
					}
					keys[id] = append(keys[id], form)
				}
				if _, ok := v["other"]; !ok {
					t.Errorf("%s: %q has no \"other\" form", f, id)
				}
			default:
				t.Errorf("%s: %q is neither a text nor plural forms", f, id)
			}
		}
		if out[area] == nil {
			out[area] = map[string]map[string][]string{}
		}
		out[area][lang] = keys
	}
	return out
}

// Every language has exactly the keys of English, area by area.
func TestCatalogsComplete(t *testing.T) {
	cats := catalogKeys(t)
	for area, byLang := range cats {
		en, ok := byLang["en"]
		if !ok {
			t.Errorf("area %s has no English catalog", area)
			continue
		}
		for _, l := range i18n.Languages() {
			other, ok := byLang[l.Tag]
			if !ok {
				t.Errorf("%s.%s.toml is missing", area, l.Tag)
				continue
			}
			var missing, extra []string
			for id := range en {
				if _, ok := other[id]; !ok {
					missing = append(missing, id)
				}
			}
			for id := range other {
				if _, ok := en[id]; !ok {
					extra = append(extra, id)
				}
			}
			sort.Strings(missing)
			sort.Strings(extra)
			if len(missing) > 0 {
				t.Errorf("%s.%s.toml misses %d keys: %s", area, l.Tag, len(missing), strings.Join(missing, ", "))
			}
			if len(extra) > 0 {
				t.Errorf("%s.%s.toml has %d keys English lacks: %s", area, l.Tag, len(extra), strings.Join(extra, ", "))
			}
		}
	}
}

// idPattern is a message ID: an area and at least two more parts.
var idPattern = regexp.MustCompile(`^(` + strings.Join(areas, "|") + `)(\.[a-z0-9_-]+){2,}$`)

// templateID finds IDs in templates and scripts: any quoted ID.
var templateID = regexp.MustCompile(`["'](` + strings.Join(areas, "|") + `)((?:\.[a-z0-9_-]+){2,})["']`)

// usedIDs collects every message ID in the module's code: string literals
// of non-test Go files (comments do not count), and quoted IDs in
// templates and scripts.
func usedIDs(t *testing.T) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	root := ".."
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "testdata", "docs":
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go"):
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil && idPattern.MatchString(s) {
						used[s] = append(used[s], p)
					}
				}
				return true
			})
		case strings.HasSuffix(p, ".html") || strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".txt"):
			b, err := os.ReadFile(p) // #nosec G304 -- the module's own files
			if err != nil {
				return err
			}
			for _, m := range templateID.FindAllStringSubmatch(string(b), -1) {
				used[m[1]+m[2]] = append(used[m[1]+m[2]], p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return used
}

// Every ID the code uses is in the English catalog, and every English key
// is used somewhere.
func TestCatalogKeysUsed(t *testing.T) {
	cats := catalogKeys(t)
	used := usedIDs(t)
	var missing, unused []string
	for id, where := range used {
		area := id[:strings.IndexByte(id, '.')]
		if _, ok := cats[area]["en"][id]; !ok {
			missing = append(missing, id+" ("+strings.Join(slices.Compact(where), ", ")+")")
		}
	}
	for _, byLang := range cats {
		for id := range byLang["en"] {
			if _, ok := used[id]; !ok {
				unused = append(unused, id)
			}
		}
	}
	sort.Strings(missing)
	sort.Strings(unused)
	if len(missing) > 0 {
		t.Errorf("%d message IDs used but not in the English catalogs:\n%s", len(missing), strings.Join(missing, "\n"))
	}
	if len(unused) > 0 {
		t.Errorf("%d catalog keys no code uses:\n%s", len(unused), strings.Join(unused, "\n"))
	}
}
