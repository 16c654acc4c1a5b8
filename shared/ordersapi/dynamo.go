package ordersapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/homeregion/homeregion/shared/lease"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
)

// DynamoDBAPI is the part of the DynamoDB client DynamoStore uses: lease.DB
// (TransactWriteItems for Begin, GetItem for orders and erasure records,
// PutItem for RequestErasure, UpdateItem for legacy idempotency records).
type DynamoDBAPI interface {
	lease.DB
}

// DynamoStore is the Store on the regional orders table (ORDERS_TABLE), laid
// out by package ordertable.
//
// An order's id is derived from its idempotency key (ordertable.KeyOrderID)
// and its status record carries the key's state (ordertable.KeyedLayout),
// as in a zone pair, but written in one transaction with the no-erasure
// check, and never marked complete: POST /orders' happy path is two calls,
// Begin's TransactWriteItems and the SendMessage. A replay that finds the
// order unclaimed cannot tell whether its message was sent, and re-sends it
// (IdemUnconfirmed); the FIFO orders queue drops the copy, which carries
// the same deduplication id (the order id), within its 5-minute
// deduplication interval.
type DynamoStore struct {
	db     DynamoDBAPI
	table  string
	orders *lease.Table // order records (KeyedLayout)
	legacy *lease.Table // IDEM# records of earlier releases (IdemLayout)
}

// NewDynamoStore returns the Store on table, using db.
func NewDynamoStore(db DynamoDBAPI, table string) *DynamoStore {
	return &DynamoStore{db: db, table: table,
		orders: lease.New(db, table, ordertable.KeyedLayout),
		legacy: lease.New(db, table, ordertable.IdemLayout)}
}

// storeErr maps an error of packages lease and ordertable to the Store's.
func storeErr(op string, err error) error {
	switch {
	case errors.Is(err, lease.ErrLost):
		return fmt.Errorf("%s: %w", op, ErrClaimLost)
	case errors.Is(err, lease.ErrConflict):
		return fmt.Errorf("%s: %w", op, ErrBusy)
	case errors.Is(err, lease.ErrCorrupt), errors.Is(err, ordertable.ErrCorrupt), errors.Is(err, orders.ErrUnknownOrder),
		errors.Is(err, ordertable.ErrNoErasure):
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// The checks Begin adds to the order record's put, by their index in
// lease.Table.AcquireWith's others.
const (
	beginNoErasure    = iota // ordertable.NoErasure: the owner has no erasure record
	beginNoLegacyIdem        // ordertable.NoLegacyIdem: no live IDEM# record of the key
)

// MarksSent implements Store: false, the FIFO queue deduplicates re-sends.
func (d *DynamoStore) MarksSent() bool { return false }

// Begin implements Store with one TransactWriteItems: the order record's
// conditional put (ACCEPTED, holding the key's state), the check that the
// owner has no erasure record and the check that the key has no live legacy
// IDEM# record, all in one call. A failed erasure check is ErrErased even
// when the key's record exists too (a replay of an erased owner's key):
// never a replay or a re-send. A key found in a legacy record answers from
// that record (its random order id), so a replay across the upgrade meets
// the order it created.
func (d *DynamoStore) Begin(ctx context.Context, rec IdemRecord, order OrderRecord) error {
	if err := keyedIDs(rec, order); err != nil {
		return err
	}
	err := d.orders.AcquireWith(ctx, keyedClaim(rec, order), rec.CreatedAt,
		ordertable.NoErasure(d.table, rec.Owner), ordertable.NoLegacyIdem(d.table, rec.Key, rec.CreatedAt))
	var held *lease.HeldError
	var other *lease.OtherFailedError
	switch {
	case errors.As(err, &other) && other.Has(beginNoErasure):
		return fmt.Errorf("begin: %w", ErrErased)
	case errors.As(err, &other) && other.Has(beginNoLegacyIdem):
		item, ok := other.Items[beginNoLegacyIdem]
		if !ok {
			// Not returned with the failure: answer 409, the retry reads it.
			return fmt.Errorf("begin: legacy idempotency record not returned: %w", ErrBusy)
		}
		lr, err := d.legacy.Decode(item)
		if err != nil {
			return storeErr("begin", err)
		}
		ex, err := idemRecord(lr)
		if err != nil {
			return storeErr("begin", err)
		}
		return &KeyTakenError{Existing: ex}
	case errors.As(err, &held):
		return keyTaken(rec.Key, held.Record, false)
	case err != nil:
		return storeErr("begin", err)
	}
	return nil
}

// keyedIDs checks that rec and order carry the key's derived order id.
func keyedIDs(rec IdemRecord, order OrderRecord) error {
	if id := ordertable.KeyOrderID(rec.Key); rec.OrderID != id || order.ID != id {
		return fmt.Errorf("ordersapi: order id %q is not the key's (%q)", order.ID, id)
	}
	return nil
}

// keyedClaim is the lease claim that writes order's record, holding rec's
// idempotency state (ordertable.KeyedLayout).
func keyedClaim(rec IdemRecord, order OrderRecord) lease.Claim {
	return lease.Claim{
		Key:        ordertable.OrderKey(order.ID),
		Token:      rec.Token,
		LeaseUntil: rec.LeaseUntil,
		Attrs:      ordertable.KeyedOrder{Order: ordertable.Order(order), RequestHash: rec.RequestHash}.Attrs(),
	}
}

// keyTaken is Begin's answer when key idemKey's order record rec exists:
// a *KeyTakenError holding its state (keyedIdemRecord), ErrErased for a
// tombstone.
func keyTaken(idemKey string, rec lease.Record, leased bool) error {
	ex, err := keyedIdemRecord(idemKey, rec, leased)
	if errors.Is(err, ErrErased) {
		return fmt.Errorf("begin: %w", ErrErased)
	}
	if err != nil {
		return storeErr("begin", err)
	}
	return &KeyTakenError{Existing: ex}
}

// keyedIdemRecord is the IdemRecord of key idemKey whose state order record
// rec holds; a tombstone is ErrErased. leased (a zone pair's records) reads
// the lease's state; otherwise the record is IdemComplete once a site
// claimed or settled the order (its message was sent) and IdemUnconfirmed
// before.
func keyedIdemRecord(idemKey string, rec lease.Record, leased bool) (IdemRecord, error) {
	o, err := ordertable.KeyedOrderOf(rec)
	if err != nil {
		return IdemRecord{}, err
	}
	if o.Status == orders.StatusErased {
		return IdemRecord{}, ErrErased // the erasure worker's tombstone
	}
	r := IdemRecord{
		Key:         idemKey,
		Owner:       o.Owner,
		RequestHash: o.RequestHash,
		OrderID:     o.ID,
		State:       IdemInFlight,
		Token:       rec.Token,
		LeaseUntil:  rec.LeaseUntil,
		CreatedAt:   o.CreatedAt,
	}
	switch {
	case o.Claimed || o.Status != orders.StatusAccepted, leased && rec.State == lease.Done:
		r.State = IdemComplete
	case !leased:
		r.State = IdemUnconfirmed
	}
	return r, nil
}

// Reclaim implements Store for a legacy IDEM# record (the only kind in
// state IdemInFlight here).
func (d *DynamoStore) Reclaim(ctx context.Context, key, oldToken, newToken string, leaseUntil time.Time) error {
	if err := d.legacy.TakeOver(ctx, key, oldToken, newToken, leaseUntil); err != nil {
		return storeErr("reclaim", err)
	}
	return nil
}

// Complete implements Store for a legacy IDEM# record taken over.
func (d *DynamoStore) Complete(ctx context.Context, key, token string) error {
	if err := d.legacy.Complete(ctx, key, token, nil); err != nil {
		return storeErr("complete", err)
	}
	return nil
}

// Release implements Store for a legacy IDEM# record taken over.
func (d *DynamoStore) Release(ctx context.Context, key, token string) error {
	if err := d.legacy.Release(ctx, key, token); err != nil {
		return storeErr("release", err)
	}
	return nil
}

// Order implements Store with one strongly consistent GetItem.
func (d *DynamoStore) Order(ctx context.Context, id string) (OrderRecord, error) {
	o, err := ordertable.Get(ctx, d.db, d.table, id)
	if err != nil {
		return OrderRecord{}, storeErr("order", err)
	}
	return OrderRecord(o), nil
}

// RequestErasure implements Store with one conditional PutItem
// (ordertable.RequestErasure, via the user).
func (d *DynamoStore) RequestErasure(ctx context.Context, owner, id, home string, now time.Time) (ordertable.Erasure, bool, error) {
	e, created, err := ordertable.RequestErasure(ctx, d.db, d.table, owner, id, ordertable.ViaUser, home, now)
	if err != nil {
		return ordertable.Erasure{}, false, storeErr("request erasure", err)
	}
	return e, created, nil
}

// Erasure implements Store with one strongly consistent GetItem.
func (d *DynamoStore) Erasure(ctx context.Context, owner string) (ordertable.Erasure, error) {
	e, err := ordertable.GetErasure(ctx, d.db, d.table, owner)
	if err != nil {
		return ordertable.Erasure{}, storeErr("erasure", err)
	}
	return e, nil
}

// idemRecord is the IdemRecord of a legacy idempotency record.
func idemRecord(rec lease.Record) (IdemRecord, error) {
	i, err := ordertable.IdemOf(rec)
	if err != nil {
		return IdemRecord{}, err
	}
	r := IdemRecord{
		Key:         rec.Key,
		Owner:       i.Owner,
		RequestHash: i.RequestHash,
		OrderID:     i.OrderID,
		State:       IdemInFlight,
		Token:       rec.Token,
		LeaseUntil:  rec.LeaseUntil,
		CreatedAt:   i.CreatedAt,
		ExpiresAt:   rec.ExpiresAt,
	}
	if rec.State == lease.Done {
		r.State = IdemComplete
	}
	return r, nil
}
