package orderstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite" // registers the pure-Go "sqlite" driver
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
	// 2: the claim protocol. Rows stored before it are DONE.
	{version: 2, stmts: []string{
		`ALTER TABLE orders ADD COLUMN state TEXT NOT NULL DEFAULT 'DONE'`,
		`ALTER TABLE orders ADD COLUMN claim_token TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE orders ADD COLUMN updated_at TEXT NOT NULL DEFAULT ''`,
		`CREATE INDEX orders_unsettled ON orders (updated_at) WHERE state IN ('PREPARED', 'HANDLED')`,
		`CREATE TABLE site_identity (id TEXT PRIMARY KEY, created_at TEXT NOT NULL)`,
	}},
	// 3: erasure. The tombstones of erased owners, and the index that finds
	// an owner's rows.
	{version: 3, stmts: []string{
		`CREATE TABLE erased_owners (
			pseudonym  TEXT PRIMARY KEY,
			erasure_id TEXT NOT NULL,
			erased_at  TEXT NOT NULL
		)`,
		`CREATE INDEX erased_owners_erased_at ON erased_owners (erased_at)`,
		`CREATE INDEX orders_owner ON orders (owner)`,
	}},
}

// sqliteTime is SQLite's text form of an instant: fixed width, so that text
// order is time order.
const sqliteTime = "2006-01-02T15:04:05.000000000Z"

// sqliteDialect is SQLite's dialect.
var sqliteDialect = dialect{
	kind:       "sqlite",
	migrations: sqliteMigrations,
	createMigrations: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`,
	time:    func(t time.Time) any { return t.UTC().Format(sqliteTime) },
	refuses: permanentSQLite,
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
	s := &sqlStore{db: db, d: sqliteDialect}
	// BEGIN IMMEDIATE (_txlock) holds the write lock from the start, so
	// processes that start together take turns instead of racing for the
	// upgrade to a write lock.
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
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
