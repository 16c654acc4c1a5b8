package orderstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// postgresMigrations is the PostgreSQL schema history. Never edit a released
// step: append a new one.
var postgresMigrations = []migration{
	{version: 1, stmts: []string{
		`CREATE TABLE orders (
			order_id         TEXT PRIMARY KEY,
			region           TEXT NOT NULL,
			owner            TEXT NOT NULL,
			created_at       TIMESTAMPTZ NOT NULL,
			envelope_version INTEGER NOT NULL,
			body             JSONB NOT NULL,
			stored_at        TIMESTAMPTZ NOT NULL DEFAULT now()
		)`,
	}},
	// 2: the claim protocol. Rows stored before it are DONE.
	{version: 2, stmts: []string{
		`ALTER TABLE orders ADD COLUMN state TEXT NOT NULL DEFAULT 'DONE'`,
		`ALTER TABLE orders ADD COLUMN claim_token TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE orders ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now()`,
		`CREATE INDEX orders_unsettled ON orders (updated_at) WHERE state IN ('PREPARED', 'HANDLED')`,
		`CREATE TABLE site_identity (id TEXT PRIMARY KEY, created_at TIMESTAMPTZ NOT NULL)`,
	}},
	// 3: erasure. The tombstones of erased owners, and the index that finds
	// an owner's rows.
	{version: 3, stmts: []string{
		`CREATE TABLE erased_owners (
			pseudonym  TEXT PRIMARY KEY,
			erasure_id TEXT NOT NULL,
			erased_at  TIMESTAMPTZ NOT NULL
		)`,
		`CREATE INDEX erased_owners_erased_at ON erased_owners (erased_at)`,
		`CREATE INDEX orders_owner ON orders (owner)`,
	}},
}

// migrationLockID is the advisory lock key that serialises the migrations of
// processors starting at the same time against one database.
const migrationLockID = 0x686f6d65 // "home"

// ownerLockClass is the first key of the advisory locks of owners (the
// second is a hash of the owner's pseudonym): Erase and Prepare of one owner
// serialise on it.
const ownerLockClass = 0x65726173 // "eras"

// postgresDialect is PostgreSQL's dialect.
var postgresDialect = dialect{
	kind:       "postgres",
	migrations: postgresMigrations,
	createMigrations: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
	)`,
	lock: fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, migrationLockID),
	// An owner's lock: Erase holds it exclusive, Prepare shared, so that
	// under READ COMMITTED an Erase and a Prepare of one owner never run
	// side by side (each would miss the other's uncommitted write).
	ownerLock:       fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d, hashtext(?))`, ownerLockClass),
	ownerLockShared: fmt.Sprintf(`SELECT pg_advisory_xact_lock_shared(%d, hashtext(?))`, ownerLockClass),
	positional:      true,
	time:            func(t time.Time) any { return t.UTC() },
	refuses:         permanentPostgres,
}

func openPostgres(ctx context.Context, dsn string) (Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's parse error can echo the DSN, password included: keep it out.
		return nil, errors.New("orderstore: malformed postgres DSN (expected postgres://user:password@host:port/db?sslmode=...)")
	}
	db := stdlib.OpenDB(*cfg)
	// Enough for the processor's default 16 workers, the recovery pass and
	// the metrics, without one task holding a large share of the server's
	// max_connections (100 by default) when several tasks share it.
	db.SetMaxOpenConns(24)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &sqlStore{db: db, d: postgresDialect}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// permanentPostgres reports whether err is PostgreSQL refusing the data
// itself: SQLSTATE class 22 (data exception: 22P05 untranslatable character,
// 22021 bad byte sequence, 22001 too long, ...), 23 (integrity constraint) or
// 54 (program limit exceeded). Connection, server and lock errors are not.
func permanentPostgres(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) != 5 {
		return false
	}
	switch pe.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}
