package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/secret"
)

// IdempotencyWindow is how long a key's response is kept and replayed.
const IdempotencyWindow = 24 * time.Hour

// idemRow is the admin_idempotency_keys table (plugin/schema 0008). Body
// is sealed under LATCHKEY_SECRET.
type idemRow struct {
	KeyHash     string `gorm:"primaryKey"`
	RequestHash string
	Status      int // 0 while the work runs
	ContentType string
	Location    string
	Body        []byte
	CreatedAt   time.Time
}

func (idemRow) TableName() string { return "admin_idempotency_keys" }

type idempotency struct {
	g   *gorm.DB
	now func() time.Time
	box *secret.Box // stored bodies are sealed, bound to their key
}

// claim records the key as taken before the work starts: one INSERT, so
// of N parallel requests with one key exactly one gets to do the work. A
// record older than the window is removed first (conditionally, so two
// reclaimers cannot both win). It returns the earlier record when the key
// is already taken.
func (s *idempotency) claim(c echo.Context, keyHash, reqHash string) (*idemRow, error) {
	db := s.g.WithContext(c.Request().Context())
	now := s.now().UTC()
	for range 2 {
		err := db.Create(&idemRow{KeyHash: keyHash, RequestHash: reqHash, CreatedAt: now}).Error
		if err == nil {
			return nil, nil
		}
		if !errors.Is(err, gorm.ErrDuplicatedKey) {
			return nil, err
		}
		var old idemRow
		err = db.Where("key_hash = ?", keyHash).Take(&old).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			continue // released meanwhile: claim again
		}
		if err != nil {
			return nil, err
		}
		if !now.Before(old.CreatedAt.Add(IdempotencyWindow)) {
			if err := db.Where("key_hash = ? AND created_at = ?", keyHash, old.CreatedAt).Delete(&idemRow{}).Error; err != nil {
				return nil, err
			}
			continue
		}
		return &old, nil
	}
	return nil, newProblem(http.StatusConflict, typeInProgress, "another request with this Idempotency-Key is being handled; retry later")
}

// recorder keeps a copy of what the handler writes.
type recorder struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.buf.Len() < 1<<20 {
		r.buf.Write(b)
	}
	return r.ResponseWriter.Write(b)
}

// idempotent wraps a write: without an Idempotency-Key it just runs; with
// one, the same key and the same request within the window get the stored
// response and the action is not repeated, another request under the key
// gets 422. Keys are per caller. A response of 5xx is not kept, so the
// request may be retried with its key.
func (a *API) idempotent(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key := c.Request().Header.Get("Idempotency-Key")
		if key == "" {
			return h(c)
		}
		if len(key) > 255 {
			return invalidFields("the Idempotency-Key header is too long",
				FieldError{Field: "Idempotency-Key", Message: "at most 255 characters"})
		}
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		c.Request().Body = io.NopCloser(bytes.NewReader(body))
		kh := sha256.Sum256([]byte(callerOf(c).id() + "\x00" + key))
		rh := sha256.Sum256(append([]byte(c.Request().Method+" "+c.Request().URL.Path+"\x00"), body...))
		keyHash, reqHash := hex.EncodeToString(kh[:]), hex.EncodeToString(rh[:])
		old, err := a.idem.claim(c, keyHash, reqHash)
		if err != nil {
			return err
		}
		if old != nil {
			switch {
			case old.RequestHash != reqHash:
				return newProblem(http.StatusUnprocessableEntity, typeIdempotency,
					"this Idempotency-Key was used for a different request")
			case old.Status == 0:
				return newProblem(http.StatusConflict, typeInProgress,
					"a request with this Idempotency-Key is still being handled; retry later")
			}
			hd := c.Response().Header()
			hd.Set("Idempotent-Replayed", "true")
			if old.Location != "" {
				hd.Set("Location", old.Location)
			}
			if old.ContentType != "" {
				hd.Set(echo.HeaderContentType, old.ContentType)
			}
			body, err := a.idem.box.Open(old.Body, []byte(keyHash))
			if err != nil {
				// Sealed under a secret no longer configured.
				return newProblem(http.StatusConflict, typeConflict, "the stored answer for this Idempotency-Key cannot be read; use a new key")
			}
			c.Response().WriteHeader(old.Status)
			_, err = c.Response().Write(body)
			return err
		}
		// The claim is released if the handler panics, so the key is not
		// stuck "in progress" for the whole window.
		db := a.d.DB.WithContext(context.WithoutCancel(c.Request().Context()))
		finished := false
		defer func() {
			if !finished {
				_ = db.Where("key_hash = ?", keyHash).Delete(&idemRow{}).Error
			}
		}()
		rec := &recorder{ResponseWriter: c.Response().Writer}
		c.Response().Writer = rec
		if err := h(c); err != nil {
			writeError(c, err)
		}
		c.Response().Writer = rec.ResponseWriter
		finished = true
		status := c.Response().Status
		if status >= 500 || !c.Response().Committed {
			return db.Where("key_hash = ?", keyHash).Delete(&idemRow{}).Error
		}
		hd := c.Response().Header()
		return db.Model(&idemRow{}).Where("key_hash = ?", keyHash).Updates(map[string]any{
			"status": status, "content_type": hd.Get(echo.HeaderContentType),
			"location": hd.Get("Location"), "body": a.idem.box.Seal(rec.buf.Bytes(), []byte(keyHash)),
		}).Error
	}
}

// CleanupIdempotency deletes up to batch records past the window.
func (a *API) CleanupIdempotency(ctx context.Context, batch int) (int64, error) {
	db := a.d.DB.WithContext(ctx)
	var keys []string
	err := db.Model(&idemRow{}).Where("created_at < ?", a.d.Now().UTC().Add(-IdempotencyWindow)).
		Limit(batch).Pluck("key_hash", &keys).Error
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	res := db.Where("key_hash IN ?", keys).Delete(&idemRow{})
	return res.RowsAffected, res.Error
}
