package opstore

import (
	"context"
	"errors"

	gomysql "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"
)

// transact runs fn in a transaction, retrying a few times when MySQL picks
// it as a deadlock victim or times out on a lock: revocations touch many
// rows that concurrent token requests also write, and must not be lost.
func (s *Storage) transact(ctx context.Context, fn func(tx *gorm.DB) error) error {
	var err error
	for range 3 {
		if err = s.db(ctx).Transaction(fn); !retryable(err) {
			return err
		}
	}
	return err
}

func retryable(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}
