package ordersapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/ddbattr"
	"github.com/homeregion/homeregion/shared/lease"
	"github.com/homeregion/homeregion/shared/orders"
)

// Idempotency record attributes besides the lease's (the orders table's
// other attribute names are in package orders).
const (
	attrRequestHash = "requestHash" // hex SHA-256 of the canonical order
	attrOrderID     = "orderId"
)

// idemLayout is the idempotency records' lease layout.
var idemLayout = lease.Layout{
	Key:        orders.AttrPK,
	State:      "state",
	Token:      "claim",
	LeaseUntil: "leaseUntil",
	ExpiresAt:  orders.AttrExpiresAt,
	Held:       string(IdemInFlight),
	Done:       string(IdemComplete),
}

// DynamoDBAPI is the part of the DynamoDB client DynamoStore uses: lease.DB
// (of which the orders API needs no PutItem, but the lease table takes one
// client for all its operations).
type DynamoDBAPI interface {
	lease.DB
}

// DynamoStore is the Store on the regional orders table (ORDERS_TABLE): one
// string partition key, orders.AttrPK; TTL on orders.AttrExpiresAt.
type DynamoStore struct {
	db    DynamoDBAPI
	table string
	idem  *lease.Table
}

// NewDynamoStore returns the Store on table, using db.
func NewDynamoStore(db DynamoDBAPI, table string) *DynamoStore {
	return &DynamoStore{db: db, table: table, idem: lease.New(db, table, idemLayout)}
}

// storeErr maps an error of package lease to the Store's.
func storeErr(op string, err error) error {
	switch {
	case errors.Is(err, lease.ErrLost):
		return fmt.Errorf("%s: %w", op, ErrClaimLost)
	case errors.Is(err, lease.ErrConflict):
		return fmt.Errorf("%s: %w", op, ErrBusy)
	case errors.Is(err, lease.ErrCorrupt):
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
		Attrs: map[string]types.AttributeValue{
			orders.AttrOwner:     ddbattr.S(rec.Owner),
			attrRequestHash:      ddbattr.S(rec.RequestHash),
			attrOrderID:          ddbattr.S(rec.OrderID),
			orders.AttrCreatedAt: ddbattr.Time(rec.CreatedAt),
		},
	}
	orderPut := types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(d.table),
		Item: map[string]types.AttributeValue{
			orders.AttrPK:        ddbattr.S(orders.OrderKey(order.ID)),
			orders.AttrOwner:     ddbattr.S(order.Owner),
			orders.AttrStatus:    ddbattr.S(string(order.Status)),
			orders.AttrCreatedAt: ddbattr.Time(order.CreatedAt),
			orders.AttrUpdatedAt: ddbattr.Time(order.UpdatedAt),
		},
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": orders.AttrPK},
	}}
	err := d.idem.AcquireWith(ctx, c, rec.CreatedAt, orderPut)
	var held *lease.HeldError
	if errors.As(err, &held) {
		ex, err := decodeIdem(held.Record)
		if err != nil {
			return err
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
	out, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            ddbattr.Key(orders.AttrPK, orders.OrderKey(id)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return OrderRecord{}, storeErr("get order", err)
	}
	if len(out.Item) == 0 {
		return OrderRecord{}, orders.ErrUnknownOrder
	}
	a := ddbattr.NewReader(out.Item)
	r := OrderRecord{
		ID:        id,
		Owner:     a.S(orders.AttrOwner),
		Status:    orders.Status(a.S(orders.AttrStatus)),
		CreatedAt: a.Time(orders.AttrCreatedAt),
		UpdatedAt: a.Time(orders.AttrUpdatedAt),
	}
	if err := a.Err(); err != nil {
		return OrderRecord{}, fmt.Errorf("decode order %s: %w", id, err)
	}
	if r.Owner == "" || !r.Status.Valid() {
		return OrderRecord{}, fmt.Errorf("decode order %s: no owner or no valid status", id)
	}
	return r, nil
}

// decodeIdem reads an idempotency record.
func decodeIdem(rec lease.Record) (IdemRecord, error) {
	a := ddbattr.NewReader(rec.Item)
	r := IdemRecord{
		Key:         rec.Key,
		Owner:       a.S(orders.AttrOwner),
		RequestHash: a.S(attrRequestHash),
		OrderID:     a.S(attrOrderID),
		State:       IdemInFlight,
		Token:       rec.Token,
		LeaseUntil:  rec.LeaseUntil,
		CreatedAt:   a.Time(orders.AttrCreatedAt),
		ExpiresAt:   rec.ExpiresAt,
	}
	if rec.State == lease.Done {
		r.State = IdemComplete
	}
	if err := a.Err(); err != nil {
		return IdemRecord{}, fmt.Errorf("decode idempotency record: %w", err)
	}
	if r.Owner == "" || r.RequestHash == "" || r.OrderID == "" {
		return IdemRecord{}, errors.New("decode idempotency record: a required attribute is missing")
	}
	return r, nil
}
