package ordersapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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

func avS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func avN(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func avTime(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberS{Value: t.UTC().Format(orders.TimeFormat)}
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
				orders.AttrPK:        avS(rec.Key),
				orders.AttrOwner:     avS(rec.Owner),
				attrRequestHash:      avS(rec.RequestHash),
				attrOrderID:          avS(rec.OrderID),
				attrState:            avS(string(rec.State)),
				attrClaim:            avS(rec.Token),
				attrLeaseUntil:       avN(rec.LeaseUntil.UnixMilli()),
				orders.AttrCreatedAt: avTime(rec.CreatedAt),
				orders.AttrExpiresAt: avN(rec.ExpiresAt.Unix()),
			},
			// TTL deletion is lazy: an expired record counts as absent.
			ConditionExpression:                 aws.String("attribute_not_exists(#pk) OR #exp < :now"),
			ExpressionAttributeNames:            map[string]string{"#pk": orders.AttrPK, "#exp": orders.AttrExpiresAt},
			ExpressionAttributeValues:           map[string]types.AttributeValue{":now": avN(rec.CreatedAt.Unix())},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		{Put: &types.Put{
			TableName: aws.String(d.Table),
			Item: map[string]types.AttributeValue{
				orders.AttrPK:        avS(orders.OrderKey(order.ID)),
				orders.AttrOwner:     avS(order.Owner),
				orders.AttrStatus:    avS(string(order.Status)),
				orders.AttrCreatedAt: avTime(order.CreatedAt),
				orders.AttrUpdatedAt: avTime(order.UpdatedAt),
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
				Key:            map[string]types.AttributeValue{orders.AttrPK: avS(rec.Key)},
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
		map[string]types.AttributeValue{":new": avS(newToken), ":lease": avN(leaseUntil.UnixMilli())})
}

// Complete implements Store.
func (d *DynamoStore) Complete(ctx context.Context, key, token string) error {
	return d.update(ctx, "complete", key, token,
		"SET #state = :complete REMOVE #lease",
		map[string]types.AttributeValue{":complete": avS(string(IdemComplete))})
}

// Release implements Store.
func (d *DynamoStore) Release(ctx context.Context, key, token string) error {
	return d.update(ctx, "release", key, token, "SET #lease = :zero",
		map[string]types.AttributeValue{":zero": avN(0)})
}

// update applies expr to the in-flight record key held by token.
func (d *DynamoStore) update(ctx context.Context, op, key, token, expr string, values map[string]types.AttributeValue) error {
	values[":token"] = avS(token)
	values[":inflight"] = avS(string(IdemInFlight))
	_, err := d.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.Table),
		Key:                       map[string]types.AttributeValue{orders.AttrPK: avS(key)},
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
		Key:            map[string]types.AttributeValue{orders.AttrPK: avS(orders.OrderKey(id))},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return OrderRecord{}, unavailable("get order", err)
	}
	if len(out.Item) == 0 {
		return OrderRecord{}, orders.ErrUnknownOrder
	}
	r := OrderRecord{ID: id}
	var errs []error
	r.Owner, errs = str(out.Item, orders.AttrOwner, errs)
	var st string
	st, errs = str(out.Item, orders.AttrStatus, errs)
	r.Status = orders.Status(st)
	r.CreatedAt, errs = timeAttr(out.Item, orders.AttrCreatedAt, errs)
	r.UpdatedAt, errs = timeAttr(out.Item, orders.AttrUpdatedAt, errs)
	if err := errors.Join(errs...); err != nil {
		return OrderRecord{}, fmt.Errorf("decode order %s: %w", id, err)
	}
	return r, nil
}

// decodeIdem reads an idempotency record item.
func decodeIdem(item map[string]types.AttributeValue) (IdemRecord, error) {
	var r IdemRecord
	var errs []error
	var st string
	r.Key, errs = str(item, orders.AttrPK, errs)
	r.Owner, errs = str(item, orders.AttrOwner, errs)
	r.RequestHash, errs = str(item, attrRequestHash, errs)
	r.OrderID, errs = str(item, attrOrderID, errs)
	st, errs = str(item, attrState, errs)
	r.State = IdemState(st)
	r.Token, errs = str(item, attrClaim, errs)
	r.CreatedAt, errs = timeAttr(item, orders.AttrCreatedAt, errs)
	if v, ok := item[attrLeaseUntil].(*types.AttributeValueMemberN); ok {
		ms, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", attrLeaseUntil, err))
		}
		r.LeaseUntil = time.UnixMilli(ms).UTC()
	}
	if v, ok := item[orders.AttrExpiresAt].(*types.AttributeValueMemberN); ok {
		sec, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", orders.AttrExpiresAt, err))
		}
		r.ExpiresAt = time.Unix(sec, 0).UTC()
	}
	if err := errors.Join(errs...); err != nil {
		return IdemRecord{}, fmt.Errorf("decode idempotency record: %w", err)
	}
	return r, nil
}

func str(item map[string]types.AttributeValue, name string, errs []error) (string, []error) {
	v, ok := item[name].(*types.AttributeValueMemberS)
	if !ok {
		return "", append(errs, fmt.Errorf("attribute %s missing or not a string", name))
	}
	return v.Value, errs
}

func timeAttr(item map[string]types.AttributeValue, name string, errs []error) (time.Time, []error) {
	v, errs := str(item, name, errs)
	if v == "" {
		return time.Time{}, errs
	}
	t, err := time.Parse(orders.TimeFormat, v)
	if err != nil {
		return time.Time{}, append(errs, fmt.Errorf("attribute %s: %w", name, err))
	}
	return t.UTC(), errs
}
