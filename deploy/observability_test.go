package deploy

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/providertest"
)

// metricRef finds the metric names an expression uses: every series
// Latchkey exports starts with latchkey_ or, for the database pool, go_sql_.
var metricRef = regexp.MustCompile(`\b(latchkey_[a-z0-9_]+|go_sql_[a-z0-9_]+)\b`)

// typeRef finds the audit event types an expression selects.
var typeRef = regexp.MustCompile(`\btype=~?"([^"]+)"`)

// alertRules is the Prometheus rule file format, decoded strictly: an
// unknown or misspelt key fails.
type alertRules struct {
	Groups []struct {
		Name     string `json:"name"`
		Interval string `json:"interval,omitempty"`
		Rules    []struct {
			Alert       string            `json:"alert,omitempty"`
			Record      string            `json:"record,omitempty"`
			Expr        string            `json:"expr"`
			For         string            `json:"for,omitempty"`
			Labels      map[string]string `json:"labels,omitempty"`
			Annotations map[string]string `json:"annotations,omitempty"`
		} `json:"rules"`
	} `json:"groups"`
}

// exported scrapes a running provider after a failed and a successful
// sign-in and returns the metric names of its exposition.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	s := providertest.Start(t, "sqlite://"+filepath.Join(t.TempDir(), "lk.db"), providertest.Config{})
	b := s.NewBrowser(t)
	b.SignIn(b.Get(s.URL+"/login").Page, providertest.Username, "not the password")
	b2 := s.NewBrowser(t)
	b2.SignIn(b2.Get(s.URL+"/login").Page, providertest.Username, providertest.Password)
	rec := httptest.NewRecorder()
	s.Provider.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	names := map[string]bool{}
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		names[name] = true
	}
	return names
}

// knownEventTypes are the audit event types the rules and dashboard may
// select, from the code's own constants.
var knownEventTypes = map[string]bool{
	audit.RecoveryStart: true, audit.PasswordReset: true, audit.RecoveryBlocked: true, audit.Lockout: true,
	audit.SignInFailed: true, phone.EventSend: true, phone.EventBreaker: true,
}

// TestDashboardAndAlertsUseExportedMetrics: every metric the Grafana
// dashboard and the alert rules query is one a running Latchkey exports
// (a renamed metric would leave a panel blank and an alert silent), every
// audit event type they select exists, and the rule file has the
// structure Prometheus loads.
func TestDashboardAndAlertsUseExportedMetrics(t *testing.T) {
	have := exported(t)
	for _, want := range []string{"latchkey_build_info", "go_sql_open_connections", "latchkey_signins_total", "latchkey_audit_events_total"} {
		if !have[want] {
			t.Fatalf("the provider does not export %s; exported: %v", want, keys(have))
		}
	}

	var exprs []struct{ where, expr string }
	raw, err := os.ReadFile("grafana/latchkey-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	if dash.UID == "" || dash.Title == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard lacks a uid, title or panels")
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, struct{ where, expr string }{"dashboard panel " + p.Title, tg.Expr})
		}
	}
	var panelTitles []string
	for _, p := range dash.Panels {
		panelTitles = append(panelTitles, strings.ToLower(p.Title))
	}
	for _, want := range []string{"sign-in", "recovery", "lockout", "phone", "token", "database pool"} {
		if !strings.Contains(strings.Join(panelTitles, "|"), want) {
			t.Errorf("no dashboard panel about %s (panels %v)", want, panelTitles)
		}
	}

	raw, err = os.ReadFile("prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules alertRules
	if err := yaml.UnmarshalStrict(raw, &rules); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	if len(rules.Groups) == 0 {
		t.Fatal("alerts.yaml has no rule group")
	}
	seen := map[string]bool{}
	for _, g := range rules.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("rule group %q has no name or no rules", g.Name)
		}
		for _, r := range g.Rules {
			switch {
			case (r.Alert == "") == (r.Record == ""):
				t.Errorf("rule %q/%q: exactly one of alert and record", r.Alert, r.Record)
			case seen[r.Alert]:
				t.Errorf("alert %s twice", r.Alert)
			case strings.TrimSpace(r.Expr) == "":
				t.Errorf("alert %s has no expr", r.Alert)
			case r.Alert != "" && (r.Labels["severity"] == "" || r.Annotations["summary"] == ""):
				t.Errorf("alert %s lacks a severity label or a summary", r.Alert)
			}
			seen[r.Alert] = true
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("alert %s: for %q: %v", r.Alert, r.For, err)
				}
			}
			exprs = append(exprs, struct{ where, expr string }{"alert " + r.Alert, r.Expr})
		}
	}
	for _, want := range []string{"SignIn", "Recovery", "Lockout", "PhoneSend", "CircuitBreaker", "TokenLatency"} {
		found := false
		for a := range seen {
			found = found || strings.Contains(a, want)
		}
		if !found {
			t.Errorf("no alert about %s (alerts %v)", want, keys(seen))
		}
	}

	for _, e := range exprs {
		if !balanced(e.expr) {
			t.Errorf("%s: unbalanced brackets or quotes in %q", e.where, e.expr)
		}
		refs := metricRef.FindAllString(e.expr, -1)
		if len(refs) == 0 {
			t.Errorf("%s queries no Latchkey metric: %q", e.where, e.expr)
		}
		for _, m := range refs {
			if !have[m] {
				t.Errorf("%s queries %s, which Latchkey does not export", e.where, m)
			}
		}
		for _, m := range typeRef.FindAllStringSubmatch(e.expr, -1) {
			if !knownEventTypes[m[1]] {
				t.Errorf("%s selects audit event type %q, which no code records", e.where, m[1])
			}
		}
	}
}

// balanced is a structural check of a PromQL expression (the Prometheus
// parser is a heavy dependency): brackets nest and quotes close.
func balanced(s string) bool {
	var stack []rune
	inQuote := false
	for _, r := range s {
		if inQuote {
			inQuote = r != '"'
			continue
		}
		switch r {
		case '"':
			inQuote = true
		case '(', '{', '[':
			stack = append(stack, r)
		case ')', '}', ']':
			open := map[rune]rune{')': '(', '}': '{', ']': '['}[r]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return !inQuote && len(stack) == 0
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
