package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/plugin/report"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// Policies is the recovery policy's store (plugin/policy.Store).
type Policies interface {
	Versioned(ctx context.Context) (policy.Policy, string, error)
	SetIf(ctx context.Context, p policy.Policy, version string) (string, error)
}

// CustomQuestions are the admin-defined security questions
// (plugin/method/questions.Method); the CLI changes them the same way.
type CustomQuestions interface {
	Custom(ctx context.Context) ([]method.Question, error)
	AddCustom(ctx context.Context, texts map[string]string) (method.Question, error)
	EditCustom(ctx context.Context, id string, texts map[string]string) (method.Question, error)
	DeleteCustom(ctx context.Context, id string) error
}

// Reporter runs the usage reports (plugin/report.Reports).
type Reporter interface {
	Run(ctx context.Context, l *i18n.Localizer, req report.Request) (report.Result, error)
}

// OpsDeps are what the policy, audit log and report operations need.
type OpsDeps struct {
	Policies  Policies
	Questions CustomQuestions
	// Available lists the methods this server can deliver (email needs
	// SMTP, phones a gateway); the policy may only switch those on.
	Available []string
	Reports   Reporter
	// AuditRetentionDays is LATCHKEY_AUDIT_RETENTION_DAYS (0: kept for ever).
	AuditRetentionDays int
}

func (d OpsDeps) check() error {
	if d.Policies == nil || d.Questions == nil || d.Reports == nil {
		return errors.New("admin: policies, questions and reports are required")
	}
	return nil
}

// opsRoutes are the policy, audit log and report operations.
func (a *API) opsRoutes() []route {
	return []route{
		{http.MethodGet, "/policy", a.getPolicy},
		{http.MethodPatch, "/policy", a.updatePolicy},
		{http.MethodGet, "/audit/events", a.listAudit},
		{http.MethodGet, "/audit/export", a.exportAudit},
		{http.MethodGet, "/audit/settings", a.auditSettings},
		{http.MethodGet, "/reports", a.listReports},
		{http.MethodGet, "/reports/{name}", a.getReport},
	}
}
