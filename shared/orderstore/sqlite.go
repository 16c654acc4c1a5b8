package orderstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	"github.com/homeregion/homeregion/shared/orders"
)

// sqliteMigrations is the SQLite schema history. Never edit a released step:
// append a new one.
var sqliteMigrations = []migration{
	{version: 1, stmts: []string{
		`CREATE TABLE orders (
			order_id         TEXT PRIMARY KEY,
			region           TEXT NOT NULL,
			owner            TEXT NOT NULL,
			created_at       TEXT NOT NULL,
			envelope_version INTEGER NOT NULL,
			body             TEXT NOT NULL,
			stored_at        TEXT NOT NULL
		)`,
	}},
}

// sqliteStore is a Store on an embedded SQLite file.
type sqliteStore struct {
	db *sql.DB
}

// sqlitePragmas make every connection durable and patient: WAL with
// synchronous=FULL (a committed row survives power loss), a busy timeout so a
// second process on the same file waits instead of failing, and immediate
// write transactions so migrations of two starting processes serialise.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"

// sqliteOpenPatience bounds how long Open keeps retrying a database that
// another process is converting to WAL; it matches the busy timeout.
const sqliteOpenPatience = 10 * time.Second

// openSQLite opens and migrates the file at path. The switch to WAL needs
// the file to itself and SQLite calls no busy handler for it, so when several
// processes create one file together all but one see SQLITE_BUSY: openSQLite
// retries those with a short backoff for up to sqliteOpenPatience.
func openSQLite(ctx context.Context, path string) (Store, error) {
	deadline := time.Now().Add(sqliteOpenPatience)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		s, err := openSQLiteOnce(ctx, path)
		if err == nil || !busySQLite(err) || time.Now().Add(wait).After(deadline) {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("orderstore: open sqlite: %w (after %w)", ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

func openSQLiteOnce(ctx context.Context, path string) (Store, error) {
	dsn := path
	if strings.Contains(dsn, "?") {
		dsn += "&" + sqlitePragmas
	} else {
		dsn += "?" + sqlitePragmas
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("orderstore: open sqlite: %w", err)
	}
	// SQLite has one writer at a time; one connection avoids SQLITE_BUSY
	// between our own goroutines (database/sql queues them instead).
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s := &sqliteStore{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// migrate runs every pending migration in one BEGIN IMMEDIATE transaction,
// the creation of schema_migrations included, so processes that start
// together take turns instead of racing for the upgrade to a write lock.
func (s *sqliteStore) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock): holds the write lock
	if err != nil {
		return fmt.Errorf("orderstore: sqlite: begin migration: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("orderstore: sqlite: create schema_migrations: %w", err)
	}
	for _, m := range sqliteMigrations {
		if err := applySQLite(ctx, tx, m); err != nil {
			return fmt.Errorf("orderstore: sqlite: migration %d: %w", m.version, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("orderstore: sqlite: commit migrations: %w", err)
	}
	return nil
}

// applySQLite runs migration m inside tx unless schema_migrations records it.
func applySQLite(ctx context.Context, tx *sql.Tx, m migration) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	for _, stmt := range m.stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		m.version, time.Now().UTC().Format(time.RFC3339Nano))
	return err
}

// Save implements Store.
func (s *sqliteStore) Save(ctx context.Context, env orders.Envelope) (bool, error) {
	r, err := newRow(env)
	if err != nil {
		return false, err
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO orders
		(order_id, region, owner, created_at, envelope_version, body, stored_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (order_id) DO NOTHING`,
		r.id, r.region, r.owner, r.createdAt.Format(time.RFC3339Nano), r.version, string(r.body),
		time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		err = fmt.Errorf("orderstore: sqlite: save %s: %w", r.id, err)
		if permanentSQLite(err) {
			err = permanent(err)
		}
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("orderstore: sqlite: save %s: %w", r.id, err)
	}
	return n == 1, nil
}

// SQLite primary result codes that refuse the data itself.
const (
	sqliteBusy       = 5  // SQLITE_BUSY
	sqliteTooBig     = 18 // SQLITE_TOOBIG
	sqliteConstraint = 19 // SQLITE_CONSTRAINT
	sqliteMismatch   = 20 // SQLITE_MISMATCH
)

// permanentSQLite reports whether err is SQLite refusing the data itself
// (constraint, too big, type mismatch); busy, I/O and full disk are not.
func permanentSQLite(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff { // the primary code of an extended one
	case sqliteTooBig, sqliteConstraint, sqliteMismatch:
		return true
	}
	return false
}

// busySQLite reports whether err is SQLITE_BUSY (any extended form).
func busySQLite(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqliteBusy
}

// Kind implements Store.
func (s *sqliteStore) Kind() string { return "sqlite" }

// Close implements Store.
func (s *sqliteStore) Close() error { return s.db.Close() }
