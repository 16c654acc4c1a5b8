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
// (of which the orders API needs no PutItem, but the lease table takes one
// client for all its operations).
type DynamoDBAPI interface {
	lease.DB
}

// DynamoStore is the Store on the regional orders table (ORDERS_TABLE), laid
// out by package ordertable.
type DynamoStore struct {
	db    DynamoDBAPI
	table string
	idem  *lease.Table
}

// NewDynamoStore returns the Store on table, using db.
func NewDynamoStore(db DynamoDBAPI, table string) *DynamoStore {
	return &DynamoStore{db: db, table: table, idem: lease.New(db, table, ordertable.IdemLayout)}
}

// storeErr maps an error of packages lease and ordertable to the Store's.
func storeErr(op string, err error) error {
	switch {
	case errors.Is(err, lease.ErrLost):
		return fmt.Errorf("%s: %w", op, ErrClaimLost)
	case errors.Is(err, lease.ErrConflict):
		return fmt.Errorf("%s: %w", op, ErrBusy)
	case errors.Is(err, lease.ErrCorrupt), errors.Is(err, ordertable.ErrCorrupt), errors.Is(err, orders.ErrUnknownOrder):
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// Begin implements Store with one TransactWriteItems of two conditional puts.
func (d *DynamoStore) Begin(ctx context.Context, rec IdemRecord, order OrderRecord) error {
	c := lease.Claim{
		Key:        rec.Key,
		Token:      rec.Token,
		LeaseUntil: rec.LeaseUntil,
		ExpiresAt:  rec.ExpiresAt,
		Attrs:      ordertable.Idem{Owner: rec.Owner, RequestHash: rec.RequestHash, OrderID: rec.OrderID, CreatedAt: rec.CreatedAt}.Attrs(),
	}
	err := d.idem.AcquireWith(ctx, c, rec.CreatedAt, ordertable.Create(d.table, ordertable.Order(order)))
	var held *lease.HeldError
	if errors.As(err, &held) {
		ex, err := idemRecord(held.Record)
		if err != nil {
			return storeErr("begin", err)
		}
		return &KeyTakenError{Existing: ex}
	}
	if err != nil {
		return storeErr("begin", err)
	}
	return nil
}

// Reclaim implements Store.
func (d *DynamoStore) Reclaim(ctx context.Context, key, oldToken, newToken string, leaseUntil time.Time) error {
	if err := d.idem.TakeOver(ctx, key, oldToken, newToken, leaseUntil); err != nil {
		return storeErr("reclaim", err)
	}
	return nil
}

// Complete implements Store.
func (d *DynamoStore) Complete(ctx context.Context, key, token string) error {
	if err := d.idem.Complete(ctx, key, token, nil); err != nil {
		return storeErr("complete", err)
	}
	return nil
}

// Release implements Store.
func (d *DynamoStore) Release(ctx context.Context, key, token string) error {
	if err := d.idem.Release(ctx, key, token); err != nil {
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

// idemRecord is the IdemRecord of an idempotency record.
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
