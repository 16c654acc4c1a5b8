package ordersapi

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/ddbattr"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
)

// The idempotency records' stored states are IdemState's values.
func TestIdemLayoutStates(t *testing.T) {
	if l := ordertable.IdemLayout; l.Held != string(IdemInFlight) || l.Done != string(IdemComplete) {
		t.Fatalf("ordertable.IdemLayout states %q/%q, want %q/%q", l.Held, l.Done, IdemInFlight, IdemComplete)
	}
}

// fakeDB is a hand-written DynamoDBAPI answering every call with err (and
// GetItem with item); it keeps the last transaction.
type fakeDB struct {
	item     map[string]types.AttributeValue
	err      error
	transact *dynamodb.TransactWriteItemsInput
}

func (f *fakeDB) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: f.item}, f.err
}

func (f *fakeDB) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return &dynamodb.PutItemOutput{}, f.err
}

func (f *fakeDB) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return &dynamodb.UpdateItemOutput{}, f.err
}

func (f *fakeDB) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.transact = in
	return &dynamodb.TransactWriteItemsOutput{}, f.err
}

// cancelled is Begin's transaction cancelled for code on the order record
// (with its old item), and for codes on the other items in order (the
// no-erasure check, the legacy idempotency record check, with items);
// missing codes are None.
func cancelled(code string, item map[string]types.AttributeValue, codes ...string) error {
	return cancelledWith(code, item, codes, nil)
}

func cancelledWith(code string, item map[string]types.AttributeValue, codes []string, items []map[string]types.AttributeValue) error {
	reasons := []types.CancellationReason{{Code: aws.String(code), Item: item}, {Code: aws.String("None")}, {Code: aws.String("None")}}
	for i, c := range codes {
		reasons[i+1].Code = aws.String(c)
	}
	for i, it := range items {
		reasons[i+1].Item = it
	}
	return &types.TransactionCanceledException{CancellationReasons: reasons}
}

// TestDynamoStoreErrors checks the mapping of lease and ordertable outcomes
// to the Store's errors, which the handler answers with (409, 503, ...).
func TestDynamoStoreErrors(t *testing.T) {
	now := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	key := ordertable.IdemKey("sub", "k")
	id := ordertable.KeyOrderID(key)
	rec := IdemRecord{Key: key, Owner: "sub", RequestHash: "h", OrderID: id, State: IdemInFlight, Token: "mine",
		LeaseUntil: now.Add(time.Minute), CreatedAt: now}
	// The key's order record, written by another attempt; claimed, once a
	// site took it.
	record := ordertable.KeyedOrder{Order: ordertable.Order{ID: id, Owner: "sub", Status: orders.StatusAccepted, CreatedAt: now, UpdatedAt: now}, RequestHash: "h"}.Attrs()
	record[ordertable.AttrPK], record["state"], record[ordertable.AttrIdemToken] = ddbattr.S(ordertable.OrderKey(id)), ddbattr.S("IN_FLIGHT"), ddbattr.S("other")
	record["leaseUntil"] = ddbattr.N(now.Add(time.Minute).UnixMilli())
	claimed := maps.Clone(record)
	claimed[ordertable.AttrClaim] = ddbattr.S("site-token")
	// A legacy IDEM# record of the key (an earlier release), completed.
	legacy := ordertable.Idem{Owner: "sub", RequestHash: "h", OrderID: "o0", CreatedAt: now}.Attrs()
	legacy[ordertable.AttrPK] = ddbattr.S(key)
	legacy["state"], legacy["claim"] = ddbattr.S("COMPLETE"), ddbattr.S("other")
	legacy[ordertable.AttrExpiresAt] = ddbattr.N(now.Add(time.Hour).Unix())
	ccf := &types.ConditionalCheckFailedException{Item: map[string]types.AttributeValue{"claim": ddbattr.S("other"), "state": ddbattr.S("IN_FLIGHT"), ordertable.AttrPK: ddbattr.S(key)}}
	down := errors.New("connection refused")

	begin := func(db *fakeDB) error {
		return NewDynamoStore(db, "orders").Begin(context.Background(), rec, OrderRecord{ID: id, Owner: "sub", Status: orders.StatusAccepted, CreatedAt: now, UpdatedAt: now})
	}
	taken := func(name string, err error, orderID string, state IdemState) {
		t.Helper()
		var kt *KeyTakenError
		if !errors.As(err, &kt) || kt.Existing.OrderID != orderID || kt.Existing.State != state {
			t.Errorf("%s: %v %+v, want *KeyTakenError of %s, %s", name, err, kt, orderID, state)
		}
	}
	taken("begin on a key whose order is unclaimed", begin(&fakeDB{err: cancelled("ConditionalCheckFailed", record)}), id, IdemUnconfirmed)
	taken("begin on a key whose order is claimed", begin(&fakeDB{err: cancelled("ConditionalCheckFailed", claimed)}), id, IdemComplete)
	taken("begin on a legacy completed key", begin(&fakeDB{err: cancelledWith("None", nil, []string{"None", "ConditionalCheckFailed"},
		[]map[string]types.AttributeValue{nil, legacy})}), "o0", IdemComplete)
	tests := []struct {
		name string
		call func(*fakeDB) error
		db   *fakeDB
		want error // nil: success
	}{
		{"begin", begin, &fakeDB{}, nil},
		{"begin, transaction conflict", begin, &fakeDB{err: cancelled("TransactionConflict", nil)}, ErrBusy},
		{"begin, store down", begin, &fakeDB{err: down}, ErrUnavailable},
		{"begin, erased", begin, &fakeDB{err: cancelled("None", nil, "ConditionalCheckFailed")}, ErrErased},
		{"begin, erased, key exists", begin, &fakeDB{err: cancelled("ConditionalCheckFailed", record, "ConditionalCheckFailed")}, ErrErased},
		{"begin, legacy key not returned", begin, &fakeDB{err: cancelled("None", nil, "None", "ConditionalCheckFailed")}, ErrBusy},
		{"begin, erased tombstone", begin, &fakeDB{err: cancelled("ConditionalCheckFailed", map[string]types.AttributeValue{
			ordertable.AttrPK: ddbattr.S(ordertable.OrderKey(id)), ordertable.AttrStatus: ddbattr.S(string(orders.StatusErased)),
			"state": ddbattr.S("IN_FLIGHT"), ordertable.AttrIdemToken: ddbattr.S("other")})}, ErrErased},
		{"request erasure, store down", func(db *fakeDB) error {
			_, _, err := NewDynamoStore(db, "orders").RequestErasure(context.Background(), "sub", "e1", "eu-west-1", now)
			return err
		}, &fakeDB{err: down}, ErrUnavailable},
		{"erasure, none", func(db *fakeDB) error {
			_, err := NewDynamoStore(db, "orders").Erasure(context.Background(), "sub")
			return err
		}, &fakeDB{}, ordertable.ErrNoErasure},
		{"erasure, store down", func(db *fakeDB) error {
			_, err := NewDynamoStore(db, "orders").Erasure(context.Background(), "sub")
			return err
		}, &fakeDB{err: down}, ErrUnavailable},
		{"reclaim, lost", func(db *fakeDB) error {
			return NewDynamoStore(db, "orders").Reclaim(context.Background(), "IDEM#k", "old", "mine", now)
		}, &fakeDB{err: ccf}, ErrClaimLost},
		{"complete, lost", func(db *fakeDB) error {
			return NewDynamoStore(db, "orders").Complete(context.Background(), "IDEM#k", "mine")
		}, &fakeDB{err: ccf}, ErrClaimLost},
		{"release, store down", func(db *fakeDB) error {
			return NewDynamoStore(db, "orders").Release(context.Background(), "IDEM#k", "mine")
		}, &fakeDB{err: down}, ErrUnavailable},
		{"order, unknown", func(db *fakeDB) error {
			_, err := NewDynamoStore(db, "orders").Order(context.Background(), "o1")
			return err
		}, &fakeDB{}, orders.ErrUnknownOrder},
		{"order, store down", func(db *fakeDB) error {
			_, err := NewDynamoStore(db, "orders").Order(context.Background(), "o1")
			return err
		}, &fakeDB{err: down}, ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(tt.db)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// Begin's one transaction: the order record (holding the key's state),
	// the check that the owner has no erasure record and the check that the
	// key has no live legacy record, in that order.
	db := &fakeDB{}
	if err := begin(db); err != nil {
		t.Fatal(err)
	}
	items := db.transact.TransactItems
	if len(items) != 3 || items[0].Put == nil || items[1].ConditionCheck == nil || items[2].ConditionCheck == nil {
		t.Fatalf("transaction %+v", items)
	}
	if p := ddbattr.NewReader(items[0].Put.Item); p.S(ordertable.AttrPK) != ordertable.OrderKey(id) || p.S(ordertable.AttrRequestHash) != "h" ||
		p.S(ordertable.AttrStatus) != string(orders.StatusAccepted) || p.S(ordertable.AttrOwner) != "sub" {
		t.Fatalf("order record put %+v", items[0].Put.Item)
	}
	if cc := items[1].ConditionCheck; aws.ToString(cc.TableName) != "orders" || ddbattr.NewReader(cc.Key).S(ordertable.AttrPK) != ordertable.ErasureKey("sub") ||
		aws.ToString(cc.ConditionExpression) != "attribute_not_exists(#pk)" {
		t.Fatalf("no-erasure check %+v", cc)
	}
	if cc := items[2].ConditionCheck; ddbattr.NewReader(cc.Key).S(ordertable.AttrPK) != key || cc.ReturnValuesOnConditionCheckFailure != types.ReturnValuesOnConditionCheckFailureAllOld {
		t.Fatalf("legacy record check %+v", cc)
	}
	// An order id that is not the key's is refused before any call.
	db = &fakeDB{}
	if err := NewDynamoStore(db, "orders").Begin(context.Background(), rec, OrderRecord{ID: "random", Owner: "sub"}); err == nil || db.transact != nil {
		t.Fatalf("begin with a foreign id: %v, transaction %v", err, db.transact)
	}
	// A corrupt record is not a dependency failure (a retry cannot fix it).
	if _, err := NewDynamoStore(&fakeDB{item: map[string]types.AttributeValue{ordertable.AttrOwner: ddbattr.S("sub")}}, "orders").Order(context.Background(), "o1"); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("order, corrupt: %v, want an error other than ErrUnavailable", err)
	}
}
