package ordersapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/lease"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
)

// DynamoDBAPI is the part of the DynamoDB client DynamoStore uses: lease.DB
// (GetItem for orders and erasure records, PutItem for RequestErasure,
// UpdateItem and TransactWriteItems for the idempotency records).
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
	case errors.Is(err, lease.ErrCorrupt), errors.Is(err, ordertable.ErrCorrupt), errors.Is(err, orders.ErrUnknownOrder),
		errors.Is(err, ordertable.ErrNoErasure):
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// The writes Begin adds to the idempotency record's put, by their index in
// lease.Table.AcquireWith's others.
const (
	beginOrder     = iota // ordertable.Create: the ACCEPTED status record
	beginNoErasure        // ordertable.NoErasure: the owner has no erasure record
)

// Begin implements Store with one TransactWriteItems: the idempotency
// record's and the status record's conditional puts and the check that the
// owner has no erasure record (a ConditionCheck item, in the same call). A
// failed check is ErrErased even when the key's record exists too (a replay
// of an erased owner's key): never a replay or a takeover.
func (d *DynamoStore) Begin(ctx context.Context, rec IdemRecord, order OrderRecord) error {
	c := lease.Claim{
		Key:        rec.Key,
		Token:      rec.Token,
		LeaseUntil: rec.LeaseUntil,
		ExpiresAt:  rec.ExpiresAt,
		Attrs:      ordertable.Idem{Owner: rec.Owner, RequestHash: rec.RequestHash, OrderID: rec.OrderID, CreatedAt: rec.CreatedAt}.Attrs(),
	}
	others := make([]types.TransactWriteItem, 2)
	others[beginOrder] = ordertable.Create(d.table, ordertable.Order(order))
	others[beginNoErasure] = ordertable.NoErasure(d.table, rec.Owner)
	err := d.idem.AcquireWith(ctx, c, rec.CreatedAt, others...)
	var held *lease.HeldError
	var other *lease.OtherFailedError
	switch {
	case errors.As(err, &other) && other.Has(beginNoErasure):
		return fmt.Errorf("begin: %w", ErrErased)
	case errors.As(err, &held):
		ex, err := idemRecord(held.Record)
		if err != nil {
			return storeErr("begin", err)
		}
		return &KeyTakenError{Existing: ex}
	case err != nil:
		// An order id that exists already (ids are random: a retry draws
		// another), or DynamoDB's failure.
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
