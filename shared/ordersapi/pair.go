package ordersapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/homeregion/homeregion/shared/lease"
	"github.com/homeregion/homeregion/shared/ordertable"
)

// PairDB is the part of the DynamoDB client PairStore uses: single-item
// calls only. A zone pair's orders table is a global table with multi-Region
// strong consistency, which refuses TransactWriteItems and
// TransactGetItems; without them in this interface, no PairStore code can
// call them.
type PairDB interface {
	lease.ItemDB
}

// PairStore is the Store on a zone pair's orders table (ORDERS_TABLE with
// PAIR_REGION set), shared by both regions of the pair. It never uses a
// transaction or TTL. An order's id is derived from its idempotency key
// (ordertable.KeyOrderID; the handler asks OrderID) and its status record
// ORDER#<id> carries the idempotency state (ordertable.KeyedLayout), so a
// key retried in either region meets the one item.
//
// POST /orders' happy path is four calls: Begin's strongly consistent
// GetItem of the owner's erasure record and its conditional PutItem of
// the order record (ACCEPTED, in flight), the handler's SendMessage, and
// Complete's UpdateItem. A crash between any two leaves either nothing
// (retry: created afresh) or the in-flight record, taken over with the
// same id once its lease has passed: one order per key, never lost.
type PairStore struct {
	db    PairDB
	table string
	lease *lease.Table
	// items serves the calls that are single-item on any table (Order,
	// RequestErasure, Erasure) exactly as unpaired.
	items *DynamoStore
}

// NewPairStore returns the Store on the pair table table, using db.
func NewPairStore(db PairDB, table string) *PairStore {
	return &PairStore{
		db:    db,
		table: table,
		lease: lease.NewItems(db, table, ordertable.KeyedLayout),
		items: NewDynamoStore(noTransactions{db}, table),
	}
}

// MarksSent implements Store: true. The pair's two regions send to two
// queues, whose deduplication is their own: only the completion mark tells
// a retry at the partner that the message was sent.
func (p *PairStore) MarksSent() bool { return true }

// recordKey is the partition key of the order record that holds idempotency
// key idemKey's state.
func recordKey(idemKey string) string { return ordertable.OrderKey(ordertable.KeyOrderID(idemKey)) }

// Begin implements Store: a strongly consistent GetItem of the owner's
// erasure record (found, or unreadable: ErrErased, whatever the key's
// state), then one conditional PutItem of the order record, ACCEPTED and
// held by rec.Token, where no record of the key exists. rec.OrderID and
// order.ID must be OrderID(rec.Key).
//
// The read and the write are two calls: an erasure requested between them
// does not stop this one order, which the erasure worker's table step finds
// through the owner index like any other (its wait must exceed the
// function's timeout).
func (p *PairStore) Begin(ctx context.Context, rec IdemRecord, order OrderRecord) error {
	if err := keyedIDs(rec, order); err != nil {
		return err
	}
	_, err := ordertable.GetErasure(ctx, p.db, p.table, rec.Owner)
	switch {
	case err == nil, errors.Is(err, ordertable.ErrCorrupt):
		// A record exists (a corrupt one too: fail closed).
		return fmt.Errorf("begin: %w", ErrErased)
	case !errors.Is(err, ordertable.ErrNoErasure):
		return storeErr("begin: read erasure", err)
	}
	err = p.lease.Acquire(ctx, keyedClaim(rec, order), rec.CreatedAt)
	var held *lease.HeldError
	switch {
	case errors.As(err, &held):
		return keyTaken(rec.Key, held.Record, true)
	case err != nil:
		return storeErr("begin", err)
	}
	return nil
}

// Reclaim implements Store with one conditional UpdateItem of the order
// record.
func (p *PairStore) Reclaim(ctx context.Context, key, oldToken, newToken string, leaseUntil time.Time) error {
	if err := p.lease.TakeOver(ctx, recordKey(key), oldToken, newToken, leaseUntil); err != nil {
		return storeErr("reclaim", err)
	}
	return nil
}

// Complete implements Store with one conditional UpdateItem of the order
// record (its status, which a site may have settled meanwhile, untouched).
func (p *PairStore) Complete(ctx context.Context, key, token string) error {
	if err := p.lease.Complete(ctx, recordKey(key), token, nil); err != nil {
		return storeErr("complete", err)
	}
	return nil
}

// Release implements Store with one conditional UpdateItem of the order
// record.
func (p *PairStore) Release(ctx context.Context, key, token string) error {
	if err := p.lease.Release(ctx, recordKey(key), token); err != nil {
		return storeErr("release", err)
	}
	return nil
}

// Order implements Store as DynamoStore does (one strongly consistent
// GetItem).
func (p *PairStore) Order(ctx context.Context, id string) (OrderRecord, error) {
	return p.items.Order(ctx, id)
}

// RequestErasure implements Store as DynamoStore does (one conditional
// PutItem).
func (p *PairStore) RequestErasure(ctx context.Context, owner, id, home string, now time.Time) (ordertable.Erasure, bool, error) {
	return p.items.RequestErasure(ctx, owner, id, home, now)
}

// Erasure implements Store as DynamoStore does (one strongly consistent
// GetItem).
func (p *PairStore) Erasure(ctx context.Context, owner string) (ordertable.Erasure, error) {
	return p.items.Erasure(ctx, owner)
}

// errNoTransactions answers a transaction on a pair table without a call.
var errNoTransactions = errors.New("ordersapi: a zone pair's orders table has no transactions")

// noTransactions is a PairDB as a DynamoDBAPI for the DynamoStore methods
// PairStore reuses, which make single-item calls only; a transaction fails
// without reaching DynamoDB.
type noTransactions struct{ PairDB }

func (noTransactions) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return nil, errNoTransactions
}
