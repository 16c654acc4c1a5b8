package ordersapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/ddbattr"
	"github.com/homeregion/homeregion/shared/orders"
)

// Idempotency record attributes (the orders table's other attribute names are
// in package orders).
const (
	attrRequestHash = "requestHash" // hex SHA-256 of the canonical order
	attrOrderID     = "orderId"
	attrState       = "state"      // an IdemState
	attrClaim       = "claim"      // the claim token holding the lease
	attrLeaseUntil  = "leaseUntil" // epoch milliseconds
)

// DynamoDBAPI is the part of the DynamoDB client DynamoStore uses.
type DynamoDBAPI interface {
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// DynamoStore is the Store on the regional orders table (ORDERS_TABLE): one
// string partition key, orders.AttrPK; TTL on orders.AttrExpiresAt.
type DynamoStore struct {
	DB    DynamoDBAPI
	Table string
}

// NewDynamoStore returns the Store on table, using db.
func NewDynamoStore(db DynamoDBAPI, table string) *DynamoStore {
	return &DynamoStore{DB: db, Table: table}
}

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// Begin implements Store with one TransactWriteItems of two conditional puts.
func (d *DynamoStore) Begin(ctx context.Context, rec IdemRecord, order OrderRecord) error {
	in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: aws.String(d.Table),
			Item: map[string]types.AttributeValue{
				orders.AttrPK:        ddbattr.S(rec.Key),
				orders.AttrOwner:     ddbattr.S(rec.Owner),
				attrRequestHash:      ddbattr.S(rec.RequestHash),
				attrOrderID:          ddbattr.S(rec.OrderID),
				attrState:            ddbattr.S(string(rec.State)),
				attrClaim:            ddbattr.S(rec.Token),
				attrLeaseUntil:       ddbattr.N(rec.LeaseUntil.UnixMilli()),
				orders.AttrCreatedAt: ddbattr.Time(rec.CreatedAt),
				orders.AttrExpiresAt: ddbattr.N(rec.ExpiresAt.Unix()),
			},
			// TTL deletion is lazy: an expired record counts as absent.
			ConditionExpression:                 aws.String("attribute_not_exists(#pk) OR #exp < :now"),
			ExpressionAttributeNames:            map[string]string{"#pk": orders.AttrPK, "#exp": orders.AttrExpiresAt},
			ExpressionAttributeValues:           map[string]types.AttributeValue{":now": ddbattr.N(rec.CreatedAt.Unix())},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		{Put: &types.Put{
			TableName: aws.String(d.Table),
			Item: map[string]types.AttributeValue{
				orders.AttrPK:        ddbattr.S(orders.OrderKey(order.ID)),
				orders.AttrOwner:     ddbattr.S(order.Owner),
				orders.AttrStatus:    ddbattr.S(string(order.Status)),
				orders.AttrCreatedAt: ddbattr.Time(order.CreatedAt),
				orders.AttrUpdatedAt: ddbattr.Time(order.UpdatedAt),
			},
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": orders.AttrPK},
		}},
	}}
	_, err := d.DB.TransactWriteItems(ctx, in)
	if err == nil {
		return nil
	}
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return unavailable("begin", err)
	}
	reasons := tce.CancellationReasons
	for _, r := range reasons {
		if aws.ToString(r.Code) == "TransactionConflict" {
			return ErrBusy
		}
	}
	if len(reasons) > 0 && aws.ToString(reasons[0].Code) == "ConditionalCheckFailed" {
		item := reasons[0].Item
		if len(item) == 0 { // not returned: read it (conflict path only)
			out, err := d.DB.GetItem(ctx, &dynamodb.GetItemInput{
				TableName:      aws.String(d.Table),
				Key:            ddbattr.Key(orders.AttrPK, rec.Key),
				ConsistentRead: aws.Bool(true),
			})
			if err != nil {
				return unavailable("read idempotency record", err)
			}
			if len(out.Item) == 0 { // deleted meanwhile
				return ErrBusy
			}
			item = out.Item
		}
		ex, err := decodeIdem(item)
		if err != nil {
			return err
		}
		return &KeyTakenError{Existing: ex}
	}
	return unavailable("begin", err)
}

// Reclaim implements Store.
func (d *DynamoStore) Reclaim(ctx context.Context, key, oldToken, newToken string, leaseUntil time.Time) error {
	return d.update(ctx, "reclaim", key, oldToken,
		"SET #claim = :new, #lease = :lease",
		map[string]types.AttributeValue{":new": ddbattr.S(newToken), ":lease": ddbattr.N(leaseUntil.UnixMilli())})
}

// Complete implements Store.
func (d *DynamoStore) Complete(ctx context.Context, key, token string) error {
	return d.update(ctx, "complete", key, token,
		"SET #state = :complete REMOVE #lease",
		map[string]types.AttributeValue{":complete": ddbattr.S(string(IdemComplete))})
}

// Release implements Store.
func (d *DynamoStore) Release(ctx context.Context, key, token string) error {
	return d.update(ctx, "release", key, token, "SET #lease = :zero",
		map[string]types.AttributeValue{":zero": ddbattr.N(0)})
}

// update applies expr to the in-flight record key held by token.
func (d *DynamoStore) update(ctx context.Context, op, key, token, expr string, values map[string]types.AttributeValue) error {
	values[":token"] = ddbattr.S(token)
	values[":inflight"] = ddbattr.S(string(IdemInFlight))
	_, err := d.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.Table),
		Key:                       ddbattr.Key(orders.AttrPK, key),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("#claim = :token AND #state = :inflight"),
		ExpressionAttributeNames:  updateNames(expr),
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("%s: %w", op, ErrClaimLost)
	}
	if err != nil {
		return unavailable(op, err)
	}
	return nil
}

// updateNames returns the names update expressions use (DynamoDB rejects
// unused ones).
func updateNames(expr string) map[string]string {
	names := map[string]string{"#claim": attrClaim, "#state": attrState}
	if strings.Contains(expr, "#lease") {
		names["#lease"] = attrLeaseUntil
	}
	return names
}

// Order implements Store with one strongly consistent GetItem.
func (d *DynamoStore) Order(ctx context.Context, id string) (OrderRecord, error) {
	out, err := d.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.Table),
		Key:            ddbattr.Key(orders.AttrPK, orders.OrderKey(id)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return OrderRecord{}, unavailable("get order", err)
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

// decodeIdem reads an idempotency record item.
func decodeIdem(item map[string]types.AttributeValue) (IdemRecord, error) {
	a := ddbattr.NewReader(item)
	r := IdemRecord{
		Key:         a.S(orders.AttrPK),
		Owner:       a.S(orders.AttrOwner),
		RequestHash: a.S(attrRequestHash),
		OrderID:     a.S(attrOrderID),
		State:       IdemState(a.S(attrState)),
		Token:       a.S(attrClaim),
		LeaseUntil:  a.UnixMilli(attrLeaseUntil),
		CreatedAt:   a.Time(orders.AttrCreatedAt),
		ExpiresAt:   a.Unix(orders.AttrExpiresAt),
	}
	if err := a.Err(); err != nil {
		return IdemRecord{}, fmt.Errorf("decode idempotency record: %w", err)
	}
	if r.Key == "" || r.Owner == "" || r.RequestHash == "" || r.OrderID == "" || r.State == "" || r.Token == "" {
		return IdemRecord{}, errors.New("decode idempotency record: a required attribute is missing")
	}
	return r, nil
}
