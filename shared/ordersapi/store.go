package ordersapi

import (
	"context"
	"errors"
	"time"

	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
)

// IdemState is the state of an idempotency record.
type IdemState string

// The idempotency record's states. InFlight records carry a lease: once it
// has passed, the attempt holding it is presumed dead and the next request
// with the same key and body takes the record over (and sends the message).
// An Unconfirmed record has no lease and no completion mark (a Store whose
// MarksSent is false): its message may or may not have been sent, and a
// replay sends it again, which the FIFO queue's deduplication drops.
const (
	IdemInFlight    IdemState = "IN_FLIGHT"
	IdemComplete    IdemState = "COMPLETE" // the message is in the queue
	IdemUnconfirmed IdemState = "UNCONFIRMED"
)

// IdemRecord is the idempotency record of one (owner, Idempotency-Key) pair:
// hashes, ids and timestamps only, never the order itself.
type IdemRecord struct {
	Key         string    // partition key, ordertable.IdemKey(owner, key)
	Owner       string    // the owner's Cognito sub
	RequestHash string    // hex SHA-256 of the canonical order JSON
	OrderID     string    // the order this key created
	State       IdemState // IdemInFlight or IdemComplete
	Token       string    // the claim token of the attempt holding the lease
	LeaseUntil  time.Time // an in-flight record is abandoned after this
	CreatedAt   time.Time // when the order was accepted (envelope createdAt)
	ExpiresAt   time.Time // a legacy IDEM# record's TTL; zero for an order record, which binds its key for good
}

// OrderRecord is an order's status record (ordertable.OrderKey(ID)).
type OrderRecord struct {
	ID        string
	Owner     string
	Status    orders.Status
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Errors a Store reports.
var (
	// ErrClaimLost: the record is no longer held by the given claim token.
	ErrClaimLost = errors.New("ordersapi: idempotency claim lost")
	// ErrBusy: a concurrent write to the same record won (e.g. DynamoDB's
	// TransactionConflict); the caller answers 409.
	ErrBusy = errors.New("ordersapi: concurrent request for the same key")
	// ErrErased: the owner's erasure has been requested (or done), so no new
	// order of theirs is accepted; the caller answers 403 ACCOUNT_ERASED.
	ErrErased = errors.New("ordersapi: the account's erasure was requested")
	// ErrUnavailable marks a failed call to a dependency (DynamoDB, SQS):
	// the caller answers 503 and the client may retry with the same key.
	ErrUnavailable = errors.New("ordersapi: dependency unavailable")
)

// KeyTakenError reports that Begin found a live idempotency record for the
// key; Existing is that record.
type KeyTakenError struct{ Existing IdemRecord }

func (e *KeyTakenError) Error() string {
	return "ordersapi: idempotency key in use (state " + string(e.Existing.State) + ")"
}

// Store is the orders table as the handler needs it.
type Store interface {
	// MarksSent reports whether a new order's record is leased until the
	// handler marks it complete after the send (Complete), or is never
	// marked: then a replay finds it IdemUnconfirmed (or IdemComplete once
	// a site claimed the order) and re-sends.
	MarksSent() bool
	// Begin writes, in one atomic conditional write, rec (the key's new
	// idempotency state) and order (the order's ACCEPTED status record; one
	// item, whose id is ordertable.KeyOrderID(rec.Key)),
	// provided rec.Owner has no erasure record (DynamoStore: checked in the
	// same transaction; PairStore: by a strongly consistent read just
	// before). If the owner has one, it writes nothing and returns
	// ErrErased, whatever the key's state (only this very write, committed
	// before the erasure on an attempt whose answer was lost, still
	// succeeds). Else, if a live (unexpired) record exists for rec.Key, it
	// writes nothing and returns a *KeyTakenError holding that record.
	Begin(ctx context.Context, rec IdemRecord, order OrderRecord) error
	// Reclaim takes over the in-flight record key held by oldToken (whose
	// lease has passed): it now belongs to newToken until leaseUntil.
	// ErrClaimLost if oldToken no longer holds it.
	Reclaim(ctx context.Context, key, oldToken, newToken string, leaseUntil time.Time) error
	// Complete marks the record held by token as complete (message sent).
	Complete(ctx context.Context, key, token string) error
	// Release ends token's lease on the in-flight record at once (the send
	// failed), so a retry need not wait for the lease to pass.
	Release(ctx context.Context, key, token string) error
	// Order returns order id's status record, or orders.ErrUnknownOrder
	// (also for an erased order's tombstone).
	Order(ctx context.Context, id string) (OrderRecord, error)
	// RequestErasure records, with id, that owner, whose home region is
	// home, is to be erased (asked by the user), unless an erasure of owner
	// exists. It returns the erasure that holds afterwards, and whether
	// this call created it: a repeated or concurrent request gets the first
	// erasure.
	RequestErasure(ctx context.Context, owner, id, home string, now time.Time) (ordertable.Erasure, bool, error)
	// Erasure returns owner's erasure record, or ordertable.ErrNoErasure.
	Erasure(ctx context.Context, owner string) (ordertable.Erasure, error)
}

// Message is one queue message.
type Message struct {
	Body        string // orders.SealedEnvelope JSON (version 2)
	OrderID     string // the orders.MessageAttrOrderID attribute
	TraceHeader string // X-Ray trace header; empty for none
}

// Queue is the orders queue as the handler needs it.
type Queue interface {
	// Send enqueues m. An error means it may not have been enqueued.
	Send(ctx context.Context, m Message) error
}
