package processor

import (
	"context"
	"database/sql"
	"errors"

	"github.com/homeregion/homeregion/shared/orders"
)

// Handler is the site's Go extension point: an adopter's own processing of
// each order (fulfilment, a ledger, a legacy system's tables).
//
// HandleOrder runs inside the site database transaction that marks the
// order handled, after this site won the order's claim in the regional
// orders table, and before its status becomes COMPLETED and its message is
// deleted. What it writes through tx commits together with that mark or not
// at all, so across every consumer of the queue (several servers of a site,
// the primary and the standby sites) it takes effect once per order id. If
// it returns an error its writes roll back: an error wrapped with
// Permanent ends the order FAILED and leaves its message for the dead-letter
// queue; any other error is retried (redelivery or the site's recovery pass).
// The orders of one receive (up to 10) share that transaction, each inside a
// savepoint of its own (orderstore.Store.HandleBatch): an error rolls back
// the order's own writes only, and the writes of every order commit
// together, after the last Handler of the batch returns. So HandleOrder
// must not commit, roll back or release savepoints itself.
// tx belongs to the site database (orderstore): SQLite or PostgreSQL, see
// its Kind. HandleOrder must not keep tx or o after it returns.
type Handler interface {
	HandleOrder(ctx context.Context, tx *sql.Tx, o orders.Envelope) error
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, tx *sql.Tx, o orders.Envelope) error

// HandleOrder calls f.
func (f HandlerFunc) HandleOrder(ctx context.Context, tx *sql.Tx, o orders.Envelope) error {
	return f(ctx, tx, o)
}

// Deliverer hands each order to a system outside the site database (for
// example httpdelivery's local HTTP endpoint). Deliver runs after the order
// is stored and handled at the site that won its claim, and before its status
// becomes COMPLETED and its message is deleted. It is at least once: a crash
// after Deliver returned and before the status write runs it again for the
// same order, so the receiver de-duplicates by o.OrderID. An error wrapped
// with Permanent ends the order FAILED and leaves its message for the
// dead-letter queue; any other error is retried.
type Deliverer interface {
	Deliver(ctx context.Context, o orders.Envelope) error
}

// Eraser erases an adopter's own data of a user, when the user's erasure
// (right to erasure) reaches the site: whatever the Handler wrote for the
// user's orders (a ledger's rows, a legacy system's tables).
//
// EraseOwner runs inside the site database transaction that deletes every
// order row of owner (the user's Cognito sub) and keeps the owner's
// tombstone (orderstore.Store.Erase): what it deletes through tx commits
// together with them or not at all. It may run more than once for one owner
// (a redelivered erasure message), so it must be idempotent. An error rolls
// the transaction back and the erasure is retried later. It must not keep
// tx, and must never log owner.
type Eraser interface {
	EraseOwner(ctx context.Context, tx *sql.Tx, owner string) error
}

// EraserFunc adapts a function to an Eraser.
type EraserFunc func(ctx context.Context, tx *sql.Tx, owner string) error

// EraseOwner calls f.
func (f EraserFunc) EraseOwner(ctx context.Context, tx *sql.Tx, owner string) error {
	return f(ctx, tx, owner)
}

// Extensions are an adopter's additions to the processor (Deps.Handler,
// Deps.Deliverer and Deps.Eraser); each may be nil. A Handler that keeps
// data of a user needs an Eraser: without one, Run warns at start.
type Extensions struct {
	Handler   Handler
	Deliverer Deliverer
	Eraser    Eraser
}

// errPermanent marks errors that no retry can fix.
var errPermanent = errors.New("permanent")

type permanentError struct{ err error }

func (e permanentError) Error() string   { return e.err.Error() }
func (e permanentError) Unwrap() []error { return []error{errPermanent, e.err} }

// Permanent marks err as one that no retry can fix (the order's data is
// refused for good). A nil err stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked by
// Permanent.
func IsPermanent(err error) bool { return errors.Is(err, errPermanent) }
