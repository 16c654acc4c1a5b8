// Package orderstore is the on-prem site's own order database: the place where
// the regulated part of every order (the delivery address, the items) is
// stored, so it never has to live in the cloud.
//
// One implementation over database/sql serves two backends, chosen by the
// DSN given to Open:
//
//   - an embedded SQLite file (the default; pure-Go driver modernc.org/sqlite,
//     so the binary stays static): the DSN is a file path, e.g.
//     /var/lib/homeregion/orders.db;
//   - PostgreSQL (pgx/v5's database/sql driver) for sites whose servers
//     share one database: the DSN is a postgres:// or postgresql:// URL.
//
// Open creates or migrates the schema and gives the database a random,
// permanent identity (ID), the name under which it claims orders in the
// regional orders table.
//
// Every order row moves through the states of the site's half of the
// claim protocol (see package processor):
//
//	PREPARED  stored, with this database's claim token, before the claim is
//	          made; nothing has run for it yet (Prepare)
//	HANDLED   the claim is this database's: the adopter's Handler ran in the
//	          transaction that set this state (Handle)
//	DONE      the order's status COMPLETED is recorded in the orders table
//	          (Finish); rows stored before claims existed are DONE too
//	FAILED    the order was refused for good after it was claimed (Fail)
//
// A PREPARED row whose claim another database won is deleted (Discard), so
// every order id ends HANDLED or DONE in exactly one database. Rows left
// PREPARED or HANDLED by a crash are listed by Pending for the processor's
// recovery pass.
//
// Erasure (the right to erasure of a user, package ordertable's erasure
// records): Erase deletes every row of an owner and keeps a tombstone in
// table erased_owners, keyed by orders.Pseudonym(owner) (a hash of a random
// id: no personal data), so that Prepare refuses every later order of that
// owner (ErrErased) while a message of it may still arrive. PruneErased
// deletes old tombstones. Owners lists the owners the database holds rows
// of, so that a copy restored from a backup can be brought back in line
// with the erasures done since.
package orderstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/homeregion/homeregion/shared/orders"
)

// State is an order row's place in the claim protocol.
type State string

// The states of an order row.
const (
	StatePrepared State = "PREPARED"
	StateHandled  State = "HANDLED"
	StateDone     State = "DONE"
	StateFailed   State = "FAILED"
)

// Order is an order row.
type Order struct {
	Envelope  orders.Envelope
	State     State
	Token     string    // this database's claim token for the order ("" for rows stored before claims)
	UpdatedAt time.Time // when the state last changed
}

// Store is the site database. It is safe for concurrent use, by the
// goroutines of one process and by several processes sharing a database.
type Store interface {
	// ID is the database's permanent identity, created with its schema.
	ID() string
	// Prepare durably stores env PREPARED with a new random claim token,
	// unless the order is already stored: then it changes nothing and
	// returns the stored row (its envelope as stored, its state, its token).
	// It returns ErrErased, and writes nothing, when env's owner has a
	// tombstone (Erase): the check and the insert are one transaction, so
	// a Prepare racing an Erase of its owner never leaves a row behind.
	Prepare(ctx context.Context, env orders.Envelope) (Order, error)
	// Erase erases owner at this database in one transaction: it deletes
	// every order row of owner (whatever its state), runs fn (the adopter's
	// processor.Eraser; may be nil) and keeps the tombstone
	// orders.Pseudonym(owner) with erasureID (inserted, or kept as it is
	// when present). Either all of it commits or none. It returns how many
	// order rows it deleted. It is idempotent: a repeated Erase deletes
	// nothing more and keeps the first tombstone.
	Erase(ctx context.Context, owner, erasureID string, fn func(tx *sql.Tx) error) (rows int, err error)
	// Forget deletes order id's row in any state (a no-op when there is
	// none): the order's status record is an erasure tombstone, so its owner
	// was erased and nothing of the order may stay.
	Forget(ctx context.Context, id string) error
	// PruneErased deletes the tombstones of owners erased before `before`
	// and returns how many: once no message of an owner can still arrive, its
	// tombstone has nothing left to refuse.
	PruneErased(ctx context.Context, before time.Time) (int, error)
	// Owners lists up to limit distinct owners of the order rows that are
	// greater than after ("": from the first), in order (the database's
	// text order, index orders_owner). A caller pages with the last owner
	// it got: a restored copy of the database is checked owner by owner
	// against the erasures recorded since its backup
	// (processor.ReconcileErasures).
	Owners(ctx context.Context, after string, limit int) ([]string, error)
	// Handle moves order id from PREPARED to HANDLED and runs fn inside
	// the same transaction: both commit or neither does. It reports
	// ran=false, without running fn, when the row is not PREPARED (another
	// worker handled it first, or it is not stored here). fn may be nil.
	Handle(ctx context.Context, id string, fn func(tx *sql.Tx) error) (ran bool, err error)
	// PrepareBatch is Prepare for every envelope of envs in one
	// transaction: each in a savepoint of its own, so that an order the
	// database refuses (ErrPermanent), an erased owner's (ErrErased) or any
	// other failing one is rolled back alone and the others commit. Its
	// result i is envs[i]'s: the row, or that order's error. Its own error
	// means nothing was committed (begin, savepoint or commit failed): the
	// caller may prepare the orders one by one. Two envelopes of one order
	// id share one row (the second finds the first's).
	PrepareBatch(ctx context.Context, envs []orders.Envelope) ([]Prepared, error)
	// HandleBatch is Handle for every order of ids in one transaction: each
	// moves from PREPARED to HANDLED and runs fn (may be nil) inside a
	// savepoint of its own, so that an error of fn for one order rolls back
	// that order alone (its row stays PREPARED) and the others commit.
	// Its result i is ids[i]'s. Its own error means nothing was committed.
	HandleBatch(ctx context.Context, ids []string, fn func(tx *sql.Tx, id string) error) ([]Handled, error)
	// FinishBatch is Finish for every order of ids, in one statement.
	FinishBatch(ctx context.Context, ids []string) error
	// Finish moves order id from PREPARED or HANDLED to DONE (a no-op
	// otherwise): its status COMPLETED is recorded. From PREPARED only in a
	// copy of the database older than the handling (a restored backup).
	Finish(ctx context.Context, id string) error
	// Fail moves order id from state `from` (PREPARED when the Handler
	// refused it, HANDLED when the Deliverer did) to FAILED; a no-op in
	// any other state, so a refusal never fails a row that another worker
	// meanwhile handled.
	Fail(ctx context.Context, id string, from State) error
	// Discard deletes order id's row if it is still PREPARED with token:
	// another database won the order's claim.
	Discard(ctx context.Context, id, token string) error
	// Pending lists up to limit rows that are PREPARED or HANDLED and whose
	// state last changed before `before`, in (UpdatedAt, order id) order,
	// starting after the row `after` (the zero Order: from the first). A
	// caller pages with the last row it got, so rows that stay pending
	// (failing) never hide the ones behind them.
	Pending(ctx context.Context, before time.Time, after Order, limit int) ([]Order, error)
	// Update runs fn in one write transaction, serialised with the
	// migrations of processes starting together: for an adopter's own
	// tables (processormain.Extension.Setup).
	Update(ctx context.Context, fn func(tx *sql.Tx) error) error
	// Kind names the backend: "sqlite" or "postgres".
	Kind() string
	// Close releases the database.
	Close() error
}

// Prepared is one order's result of PrepareBatch: its row, or the error
// Prepare would have returned for it.
type Prepared struct {
	Order Order
	Err   error
}

// Handled is one order's result of HandleBatch: what Handle would have
// returned for it.
type Handled struct {
	Ran bool
	Err error
}

// ErrPermanent marks an error that no retry can fix: the database
// refused this order's data itself (PostgreSQL SQLSTATE classes 22 data
// exception, e.g. 22P05 for a NUL in JSONB, 23 integrity constraint and 54
// program limit; SQLite constraint, too big and mismatch), or the envelope
// cannot be made into a row. Every other error (connection, timeout, lock,
// disk) is transient. Test with errors.Is.
var ErrPermanent = errors.New("orderstore: permanent: this order cannot be stored")

// ErrErased reports that an order's owner was erased at this database
// (Store.Erase): the order is not stored. Test with errors.Is.
var ErrErased = errors.New("orderstore: the order's owner is erased")

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

// migration is one schema step; steps are applied in order, once, inside a
// transaction together with their row in schema_migrations.
type migration struct {
	version int
	stmts   []string
}
