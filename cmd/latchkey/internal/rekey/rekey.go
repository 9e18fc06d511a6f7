package rekey

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
)

// DefaultBatch is how many rows one transaction re-seals.
const DefaultBatch = 200

// ErrNeither means a stored value opens under neither secret: it was
// sealed under a third one, or damaged. The rotation stops on it rather
// than skip data it cannot account for.
var ErrNeither = errors.New("rekey: value opens under neither LATCHKEY_SECRET nor LATCHKEY_SECRET_PREVIOUS")

// row is one stored value being re-sealed.
type row struct {
	id     string
	sealed []byte
	kind   string // sspr_methods.method; "" elsewhere
}

// target is one sealed column.
type target struct {
	name, table, idCol, col, kindCol string
	purpose                          func(kind string) string
	aad                              func(r row) []byte
	// extra returns further columns to update, computed from the opened
	// value under the new keyring (keyed hashes that find the row).
	extra func(ctx context.Context, tx *gorm.DB, k *secret.Keyring, r row, plain []byte) (map[string]any, error)
}

func fixed(p string) func(string) string { return func(string) string { return p } }
func idAAD(r row) []byte                 { return []byte(r.id) }

func targets() []target {
	return []target{
		{name: "signing-keys", table: "oidc_signing_keys", idCol: "kid", col: "private_key_enc", purpose: fixed("signing-keys"), aad: idAAD},
		{name: "methods", table: "sspr_methods", idCol: "id", col: "data", kindCol: "method", purpose: methodPurpose, aad: idAAD, extra: destination},
		{name: "outbox", table: "sspr_outbox", idCol: "id", col: "body", purpose: fixed("outbox"), aad: idAAD},
		{name: "push-subscriptions", table: "push_subscriptions", idCol: "device_id", col: "data", purpose: fixed("method/push"),
			aad: func(r row) []byte { return []byte("webpush|" + r.id) }},
	}
}

// methodPurpose is the box each method seals its enrollments with; the
// three phone kinds share one.
func methodPurpose(kind string) string {
	switch kind {
	case "mobile", "alternate-phone", "office-phone":
		return "method/phone"
	}
	return "method/" + kind
}

// destination recomputes sspr_methods.destination_key, the keyed hash
// that finds duplicate registrations and keys per-destination limits,
// exactly as each method computes it.
func destination(ctx context.Context, tx *gorm.DB, k *secret.Keyring, r row, plain []byte) (map[string]any, error) {
	var key string
	switch methodPurpose(r.kind) {
	case "method/email":
		var v struct {
			Address string `json:"address"`
		}
		if err := json.Unmarshal(plain, &v); err != nil {
			return nil, fmt.Errorf("rekey: email method %s: %w", r.id, err)
		}
		key = hex.EncodeToString(k.MAC("email-destination", user.Normalize(v.Address)))
	case "method/phone":
		var v struct {
			E164 string `json:"e164"`
		}
		if err := json.Unmarshal(plain, &v); err != nil {
			return nil, fmt.Errorf("rekey: phone method %s: %w", r.id, err)
		}
		key = hex.EncodeToString(k.MAC("phone-destination", v.E164))
	case "method/push":
		var pub struct{ PublicKey []byte }
		err := tx.WithContext(ctx).Table("push_devices").Select("public_key").Where("id = ?", r.id).Take(&pub).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, nil // the device is gone; the enrollment no longer verifies either way
		}
		if err != nil {
			return nil, fmt.Errorf("rekey: push device %s: %w", r.id, err)
		}
		key = hex.EncodeToString(k.MAC("push-device", string(pub.PublicKey)))
	default:
		return nil, nil
	}
	return map[string]any{"destination_key": key}, nil
}

// progress is latchkey_secret_rotation: one row per target.
type progress struct {
	Target      string `gorm:"primaryKey;size:64"`
	Fingerprint string `gorm:"size:32;not null"`
	LastID      string `gorm:"size:191;not null"`
	Done        bool   `gorm:"not null"`
	UpdatedAt   time.Time
}

func (progress) TableName() string { return "latchkey_secret_rotation" }

// Report counts what a run did per target.
type Report struct {
	Target   string
	Resealed int // opened under the previous secret, sealed under the new one
	Skipped  int // already under the new secret (written since, or an earlier run), or changed meanwhile
	Done     bool
}

// Options tune a run.
type Options struct {
	Batch int
	// AfterBatch runs after each committed batch; an error stops the run
	// there (tests interrupt it this way; the CLI uses it for progress).
	AfterBatch func(target string, rows int) error
}

// Rotate re-seals every long-lived value from prev to next. It may run
// while servers run with LATCHKEY_SECRET=next and
// LATCHKEY_SECRET_PREVIOUS=prev: each update is conditional on the value
// it read, so a value a server rewrote meanwhile is left alone.
func Rotate(ctx context.Context, g *gorm.DB, next, prev *secret.Keyring, o Options) ([]Report, error) {
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	next, prev = next.Current(), prev.Current()
	if next.Fingerprint() == prev.Fingerprint() {
		return nil, errors.New("rekey: LATCHKEY_SECRET_PREVIOUS is the same secret as LATCHKEY_SECRET")
	}
	m := g.WithContext(ctx).Migrator()
	if !m.HasTable(&progress{}) {
		if err := m.CreateTable(&progress{}); err != nil {
			return nil, fmt.Errorf("rekey: progress table: %w", err)
		}
	}
	var out []Report
	for _, t := range targets() {
		rep, err := rotateTarget(ctx, g, t, next, prev, o)
		out = append(out, rep)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func rotateTarget(ctx context.Context, g *gorm.DB, t target, next, prev *secret.Keyring, o Options) (Report, error) {
	rep := Report{Target: t.name}
	if !g.Migrator().HasTable(t.table) {
		rep.Done = true
		return rep, nil
	}
	fp := next.Fingerprint()
	for {
		var n int
		err := db.Transact(ctx, g, "secret.rekey", func(tx *gorm.DB) error {
			p := progress{Target: t.name}
			if err := tx.Where("target = ?", t.name).Take(&p).Error; err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
				return err
			}
			if p.Fingerprint != fp { // first run, or a run towards another secret
				p = progress{Target: t.name, Fingerprint: fp}
			}
			if p.Done {
				rep.Done = true
				return nil
			}
			rows, err := load(ctx, tx, t, p.LastID, o.Batch)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if len(r.sealed) == 0 {
					continue // nothing sealed (a delivered message keeps no body)
				}
				resealed, err := reseal(ctx, tx, t, next, prev, r)
				if err != nil {
					return err
				}
				if resealed {
					rep.Resealed++
				} else {
					rep.Skipped++
				}
			}
			n = len(rows)
			if n < o.Batch {
				p.Done = true
			}
			if n > 0 {
				p.LastID = rows[n-1].id
			}
			p.UpdatedAt = time.Now().UTC()
			return tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(&p).Error
		})
		if err != nil {
			return rep, fmt.Errorf("rekey: %s: %w", t.name, err)
		}
		if n > 0 && o.AfterBatch != nil {
			if err := o.AfterBatch(t.name, n); err != nil {
				return rep, err
			}
		}
		if rep.Done || n < o.Batch {
			rep.Done = true
			return rep, nil
		}
	}
}

func load(ctx context.Context, tx *gorm.DB, t target, after string, limit int) ([]row, error) {
	cols := t.idCol + ", " + t.col
	if t.kindCol != "" {
		cols += ", " + t.kindCol
	}
	rs, err := tx.WithContext(ctx).Table(t.table).Select(cols).Where(t.idCol+" > ?", after).
		Order(t.idCol).Limit(limit).Rows()
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		dst := []any{&r.id, &r.sealed}
		if t.kindCol != "" {
			dst = append(dst, &r.kind)
		}
		if err := rs.Scan(dst...); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// reseal moves one row to the new secret; false means it was already
// there (or empty, or changed meanwhile).
func reseal(ctx context.Context, tx *gorm.DB, t target, next, prev *secret.Keyring, r row) (bool, error) {
	purpose, aad := t.purpose(r.kind), t.aad(r)
	if _, err := next.Box(purpose).Open(r.sealed, aad); err == nil {
		return false, nil
	}
	plain, err := prev.Box(purpose).Open(r.sealed, aad)
	if err != nil {
		return false, fmt.Errorf("%s %s=%s: %w", t.table, t.idCol, r.id, ErrNeither)
	}
	set := map[string]any{t.col: next.Box(purpose).Seal(plain, aad)}
	if t.extra != nil {
		more, err := t.extra(ctx, tx, next, r, plain)
		if err != nil {
			return false, err
		}
		for k, v := range more {
			set[k] = v
		}
	}
	res := tx.WithContext(ctx).Table(t.table).Where(t.idCol+" = ? AND "+t.col+" = ?", r.id, r.sealed).Updates(set)
	if res.Error != nil {
		return false, fmt.Errorf("%s %s=%s: %w", t.table, t.idCol, r.id, res.Error)
	}
	return res.RowsAffected == 1, nil
}
