package orderstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/homeregion/homeregion/shared/orders"
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
}

// migrationLockID is the advisory lock key that serialises the migrations of
// processors starting at the same time against one database.
const migrationLockID = 0x686f6d65 // "home"

// postgresStore is a Store on PostgreSQL.
type postgresStore struct {
	pool *pgxpool.Pool
}

func openPostgres(ctx context.Context, dsn string) (Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse error can echo the DSN, password included: keep it out.
		return nil, errors.New("orderstore: malformed postgres DSN (expected postgres://user:password@host:port/db?sslmode=...)")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("orderstore: postgres: connect: %w", err)
	}
	s := &postgresStore{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func (s *postgresStore) migrate(ctx context.Context) error {
	for _, m := range postgresMigrations {
		if err := s.apply(ctx, m); err != nil {
			return fmt.Errorf("orderstore: postgres: migration %d: %w", m.version, err)
		}
	}
	return nil
}

func (s *postgresStore) apply(ctx context.Context, m migration) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
		)`); err != nil {
			return err
		}
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.version).Scan(&done); err != nil {
			return err
		}
		if done {
			return nil
		}
		for _, stmt := range m.stmts {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.version)
		return err
	})
}

// Save implements Store.
func (s *postgresStore) Save(ctx context.Context, env orders.Envelope) (bool, error) {
	r, err := newRow(env)
	if err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO orders
		(order_id, region, owner, created_at, envelope_version, body, stored_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (order_id) DO NOTHING`,
		r.id, r.region, r.owner, r.createdAt, r.version, string(r.body), time.Now().UTC())
	if err != nil {
		err = fmt.Errorf("orderstore: postgres: save %s: %w", r.id, err)
		if permanentPostgres(err) {
			err = permanent(err)
		}
		return false, err
	}
	return tag.RowsAffected() == 1, nil
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

// Kind implements Store.
func (s *postgresStore) Kind() string { return "postgres" }

// Close implements Store.
func (s *postgresStore) Close() error { s.pool.Close(); return nil }
