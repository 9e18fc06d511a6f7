package report

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/nyaruka/phonenumbers"

	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/provider/audit"
)

// CountrySends is the phone sends (SMS and voice) to one calling code.
type CountrySends struct {
	// CallingCode is the country calling code without "+" ("44"). The
	// audit log keeps only the calling code and a masked number, so the
	// report groups by it; several countries share some codes (+1).
	CallingCode string `json:"calling_code"`
	// Region is the main region of the calling code (ISO 3166, "GB"), or
	// "" when the code is unknown.
	Region string `json:"region"`
	// Shared: other regions use the calling code too (+1: the US, Canada
	// and much of the Caribbean, where premium-rate fraud often dials).
	Shared  bool  `json:"shared"`
	Sent    int64 `json:"sent"`
	Failed  int64 `json:"failed"`  // the gateway refused it
	Blocked int64 `json:"blocked"` // a limit or the country allowlist refused it
}

// Total is every attempt to the calling code.
func (c CountrySends) Total() int64 { return c.Sent + c.Failed + c.Blocked }

// PhoneSends counts the phone send attempts of rg per calling code, most
// attempts first: a code that suddenly leads is the toll-fraud signal.
func (r *Reports) PhoneSends(ctx context.Context, rg Range) ([]CountrySends, error) {
	if err := rg.check(); err != nil {
		return nil, err
	}
	since, until := rg.utc()
	cc := r.dialect.jsonText("detail", "$.cc")
	var out []CountrySends
	err := r.g.WithContext(ctx).Raw(`SELECT COALESCE(`+cc+`, '') AS calling_code,
			SUM(CASE WHEN outcome = ? THEN 1 ELSE 0 END) AS sent,
			SUM(CASE WHEN outcome = ? THEN 1 ELSE 0 END) AS failed,
			SUM(CASE WHEN outcome = ? THEN 1 ELSE 0 END) AS blocked
		FROM audit_events
		WHERE time >= ? AND time < ? AND type = ?
		GROUP BY COALESCE(`+cc+`, '')`,
		audit.OK, audit.Fail, audit.Blocked, since, until, phone.EventSend).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("report: phone sends: %w", err)
	}
	for i := range out {
		if n, err := strconv.Atoi(out[i].CallingCode); err == nil {
			if region := phonenumbers.GetRegionCodeForCountryCode(n); region != phonenumbers.UNKNOWN_REGION {
				out[i].Region = region
				out[i].Shared = len(phonenumbers.GetRegionCodesForCountryCode(n)) > 1
			}
		}
	}
	slices.SortFunc(out, func(a, b CountrySends) int {
		return cmp.Or(cmp.Compare(b.Total(), a.Total()), cmp.Compare(a.CallingCode, b.CallingCode))
	})
	return out, nil
}
