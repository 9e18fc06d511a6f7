package report

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/provider/audit"
)

// RecoveryDay is one UTC day of self-service recoveries.
type RecoveryDay struct {
	Day     time.Time `json:"day"`
	Started int64     `json:"started"` // a name and a solved CAPTCHA: a flow began
	Decoys  int64     `json:"decoys"`  // of those, names with no usable account: they cannot succeed
	Resets  int64     `json:"resets"`
	Unlocks int64     `json:"unlocks"`
	// SuccessRate is the share of the started recoveries that completed.
	SuccessRate float64 `json:"success_rate"`
}

// Succeeded is the day's completed recoveries.
func (d RecoveryDay) Succeeded() int64 { return d.Resets + d.Unlocks }

// successRate is done over started, 0 when none started. A recovery
// started before midnight and completed after counts on each day, so a
// day could pass 1; it is capped there.
func successRate(done, started int64) float64 {
	if started <= 0 {
		return 0
	}
	return min(1, float64(done)/float64(started))
}

// Recoveries counts, per UTC day of rg (every day listed, zeros included),
// the recoveries started and the self-service resets and unlocks done.
// An administrator's reset or unlock (no flow) is not self-service and is
// not counted.
func (r *Reports) Recoveries(ctx context.Context, rg Range) ([]RecoveryDay, error) {
	if err := rg.check(); err != nil {
		return nil, err
	}
	since, until := rg.utc()
	day := r.dialect.day("time")
	var rows []struct {
		Day                              string
		Started, Decoys, Resets, Unlocks int64
	}
	err := r.g.WithContext(ctx).Raw(`SELECT `+day+` AS day,
			SUM(CASE WHEN type = ? THEN 1 ELSE 0 END) AS started,
			SUM(CASE WHEN type = ? AND detail = 'decoy' THEN 1 ELSE 0 END) AS decoys,
			SUM(CASE WHEN type = ? THEN 1 ELSE 0 END) AS resets,
			SUM(CASE WHEN type = ? THEN 1 ELSE 0 END) AS unlocks
		FROM audit_events
		WHERE time >= ? AND time < ? AND type IN (?, ?, ?) AND flow_id <> ''
		GROUP BY `+day+` ORDER BY day`,
		audit.RecoveryStart, audit.RecoveryStart, audit.PasswordReset, audit.Unlock,
		since, until, audit.RecoveryStart, audit.PasswordReset, audit.Unlock).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("report: recoveries: %w", err)
	}
	byDay := map[string]RecoveryDay{}
	for _, row := range rows {
		d, err := parseDay(row.Day)
		if err != nil {
			return nil, fmt.Errorf("report: recoveries: day %q: %w", row.Day, err)
		}
		byDay[row.Day] = RecoveryDay{Day: d, Started: row.Started, Decoys: row.Decoys,
			Resets: row.Resets, Unlocks: row.Unlocks, SuccessRate: successRate(row.Resets+row.Unlocks, row.Started)}
	}
	all := days(since, until)
	out := make([]RecoveryDay, len(all))
	for i, d := range all {
		rd, ok := byDay[d.Format("2006-01-02")]
		if !ok {
			rd.Day = d
		}
		out[i] = rd
	}
	return out, nil
}

// Stage is a step of the recovery funnel.
type Stage string

// The funnel's stages, in order. Started counts every submission of the
// start page whose CAPTCHA was checked; the later stages count flows.
const (
	StageStarted       Stage = "started"        // the start page submitted, its CAPTCHA checked
	StageCaptchaPassed Stage = "captcha_passed" // the CAPTCHA solved: a flow started
	StageMethodChosen  Stage = "method_chosen"  // a method chosen and its challenge sent
	StageCodeVerified  Stage = "code_verified"  // a method proven
	StageCompleted     Stage = "completed"      // the password set, or the account unlocked
)

// Stages lists the funnel's stages in order.
var Stages = []Stage{StageStarted, StageCaptchaPassed, StageMethodChosen, StageCodeVerified, StageCompleted}

// FunnelStep is how many recoveries reached a stage and how many stopped
// there (reached it and went no further).
type FunnelStep struct {
	Stage   Stage `json:"stage"`
	Reached int64 `json:"reached"`
	Stopped int64 `json:"stopped"`
}

// Funnel follows the recoveries started in rg through their stages, from
// the audit events their flows left: each flow counts once, at the
// furthest stage it reached (its later events, up to a flow's lifetime
// after rg, are read too). The completed stage has no one stopped.
func (r *Reports) Funnel(ctx context.Context, rg Range) ([]FunnelStep, error) {
	if err := rg.check(); err != nil {
		return nil, err
	}
	since, until := rg.utc()
	var rows []struct {
		Stage int
		Flows int64
	}
	// One pass over the range's events by the time index: the inner query
	// reduces each flow to its furthest stage, the outer counts flows per
	// stage. Flows are recovery flows only: those with a start event.
	err := r.g.WithContext(ctx).Raw(`SELECT stage, COUNT(*) AS flows FROM (
			SELECT flow_id, MAX(CASE
					WHEN type IN (?, ?) THEN 4
					WHEN type = ? AND outcome = ? THEN 3
					WHEN type = ? THEN 2
					ELSE 1 END) AS stage
			FROM audit_events
			WHERE time >= ? AND time < ? AND flow_id <> '' AND type IN (?, ?, ?, ?, ?)
			GROUP BY flow_id
			HAVING SUM(CASE WHEN type = ? AND time < ? THEN 1 ELSE 0 END) > 0
		) f GROUP BY stage`,
		audit.PasswordReset, audit.Unlock, audit.MethodVerified, audit.OK, audit.CodeSent,
		since, until.Add(flow.TTL), audit.RecoveryStart, audit.CodeSent, audit.MethodVerified, audit.PasswordReset, audit.Unlock,
		audit.RecoveryStart, until).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("report: funnel: %w", err)
	}
	var captchaFailed int64
	if err := r.g.WithContext(ctx).Raw(`SELECT COUNT(*) FROM audit_events WHERE time >= ? AND time < ? AND type = ?`,
		since, until, audit.CaptchaFailed).Scan(&captchaFailed).Error; err != nil {
		return nil, fmt.Errorf("report: funnel: %w", err)
	}
	// furthest[i] is the flows whose furthest stage is Stages[i].
	furthest := make([]int64, len(Stages))
	furthest[0] = captchaFailed
	for _, row := range rows {
		if row.Stage >= 1 && row.Stage < len(Stages) {
			furthest[row.Stage] += row.Flows
		}
	}
	out := make([]FunnelStep, len(Stages))
	var reached int64
	for i := len(Stages) - 1; i >= 0; i-- {
		reached += furthest[i]
		out[i] = FunnelStep{Stage: Stages[i], Reached: reached, Stopped: furthest[i]}
	}
	out[len(out)-1].Stopped = 0
	return out, nil
}
