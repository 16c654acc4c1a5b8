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
// it returns an error the transaction rolls back: an error wrapped with
// Permanent ends the order FAILED and leaves its message for the dead-letter
// queue; any other error is retried (redelivery or the site's recovery pass).
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

// Extensions are an adopter's additions to the processor (Deps.Handler and
// Deps.Deliverer); each may be nil.
type Extensions struct {
	Handler   Handler
	Deliverer Deliverer
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
