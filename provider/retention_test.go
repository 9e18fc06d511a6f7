package provider_test

import (
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/audit"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// The cleanup pass every instance runs deletes audit events older than
// the retention and keeps the rest; without a retention it keeps all.
func TestCleanupAppliesAuditRetention(t *testing.T) {
	for _, tt := range []struct {
		name      string
		retention time.Duration
		left      int
	}{
		{"thirty-days", 30 * 24 * time.Hour, 1},
		{"keep-everything", 0, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pt.Each(t, pt.Config{Provider: func(o *provider.Options) { o.AuditRetention = tt.retention }}, func(t *testing.T, s *pt.Server) {
				ctx := t.Context()
				now := s.Clock.Now()
				for _, at := range []time.Time{now.Add(-31 * 24 * time.Hour), now.Add(-29 * 24 * time.Hour)} {
					if err := s.Audit.Record(ctx, audit.Event{Type: "test.retention", Time: at}); err != nil {
						t.Fatal(err)
					}
				}
				s.Provider.Cleanup(ctx)
				left, err := s.Audit.List(ctx, audit.Filter{Type: "test.retention"})
				if err != nil || len(left) != tt.left {
					t.Fatalf("%d events left (%v), want %d", len(left), err, tt.left)
				}
			})
		})
	}
}
