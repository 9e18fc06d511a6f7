package galera_test

import (
	dto "github.com/prometheus/client_model/go"

	"github.com/latchkeyid/latchkey/provider/db"
)

// counterValue reads latchkey_db_retries_total{op}.
func counterValue(op string) float64 {
	var m dto.Metric
	if err := db.Retries.WithLabelValues(op).Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}
