// Package orderstore is the on-prem site's own order database: the place where
// the regulated part of every order (the delivery address, the items) is
// stored, so it never has to live in the cloud.
//
// One small interface, Store, has two implementations chosen by the DSN given
// to Open:
//
//   - an embedded SQLite file (the default; pure-Go driver modernc.org/sqlite,
//     so the binary stays static): the DSN is a file path, e.g.
//     /var/lib/homeregion/orders.db;
//   - PostgreSQL (pgx/v5) for production sites: the DSN is a
//     postgres:// or postgresql:// URL.
//
// Open creates or migrates the schema. Save is keyed by order id with
// INSERT ... ON CONFLICT DO NOTHING, so a redelivered queue message never
// creates a second row.
package orderstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/homeregion/homeregion/shared/orders"
)

// Store is the site database.
type Store interface {
	// Save durably stores env's order keyed by env.OrderID. It reports
	// inserted=false, and changes nothing, when the order is already stored.
	// It returns only after the row is committed.
	Save(ctx context.Context, env orders.Envelope) (inserted bool, err error)
	// Kind names the backend: "sqlite" or "postgres".
	Kind() string
	// Close releases the database.
	Close() error
}

// ErrPermanent marks a Save error that no retry can fix: the database
// refused this order's data itself (PostgreSQL SQLSTATE classes 22 data
// exception, e.g. 22P05 for a NUL in JSONB, 23 integrity constraint and 54
// program limit; SQLite constraint, too big and mismatch), or the envelope
// cannot be made into a row. Every other Save error (connection, timeout,
// lock, disk) is transient. Test with errors.Is.
var ErrPermanent = errors.New("orderstore: permanent: this order cannot be stored")

// ErrInvalidOrder reports an envelope that cannot be stored (no order id);
// it is also ErrPermanent.
var ErrInvalidOrder = fmt.Errorf("%w: invalid order", ErrPermanent)

// permanent wraps err with ErrPermanent (the message keeps err's text).
func permanent(err error) error { return permanentError{err} }

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() []error {
	return []error{ErrPermanent, e.err}
}

// Open opens the database named by dsn and creates or migrates its schema:
// a postgres:// or postgresql:// URL opens PostgreSQL, anything else without
// a URL scheme is a SQLite file path (created when missing).
func Open(ctx context.Context, dsn string) (Store, error) {
	dsn = strings.TrimSpace(dsn)
	switch {
	case dsn == "":
		return nil, errors.New("orderstore: empty DSN: give a SQLite file path or a postgres:// URL")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return openPostgres(ctx, dsn)
	case strings.Contains(dsn, "://"):
		scheme, _, _ := strings.Cut(dsn, "://")
		return nil, fmt.Errorf("orderstore: unsupported DSN scheme %q: give a SQLite file path or a postgres:// URL", scheme)
	default:
		return openSQLite(ctx, dsn)
	}
}

// row is what Save writes, derived from an envelope.
type row struct {
	id        string
	region    string
	owner     string
	createdAt time.Time
	version   int
	body      []byte
}

func newRow(env orders.Envelope) (row, error) {
	if env.OrderID == "" {
		return row{}, fmt.Errorf("%w: empty order id", ErrInvalidOrder)
	}
	body, err := json.Marshal(env.Order)
	if err != nil {
		return row{}, permanent(fmt.Errorf("orderstore: encode order %s: %w", env.OrderID, err))
	}
	return row{
		id:        env.OrderID,
		region:    env.Region,
		owner:     env.Owner,
		createdAt: env.CreatedAt.UTC(),
		version:   env.Version,
		body:      body,
	}, nil
}

// migration is one schema step; steps are applied in order, once, inside a
// transaction together with their row in schema_migrations.
type migration struct {
	version int
	stmts   []string
}
