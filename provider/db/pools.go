package db

import (
	"database/sql"
	"errors"

	"gorm.io/gorm"
)

// poolsName is the GORM plugin under which Open keeps what it opened.
const poolsName = "latchkey:pools"

// pools is what Open opened besides the GORM handle: the read pool when
// reads have their own (SQLite), and the Writer. It is registered as a
// GORM plugin so that every session of the handle finds it.
type pools struct {
	read   *sql.DB // nil when reads share the write pool
	writer *Writer
}

func (*pools) Name() string              { return poolsName }
func (*pools) Initialize(*gorm.DB) error { return nil }

// close flushes the writer, then closes the pools.
func (p *pools) close(write *sql.DB) error {
	p.writer.Close()
	var errs []error
	if p.read != nil {
		errs = append(errs, p.read.Close())
	}
	return errors.Join(append(errs, write.Close())...)
}

// ReadPool returns the pool that g's reads outside a transaction use: the
// query-only pool on SQLite, or g's own pool.
func ReadPool(g *gorm.DB) *sql.DB {
	if p, ok := g.Config.Plugins[poolsName].(*pools); ok && p.read != nil {
		return p.read
	}
	sqlDB, _ := g.DB()
	return sqlDB
}
