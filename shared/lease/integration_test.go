package lease

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/shared/ddbattr"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// lostAnswer is a DB whose writes, while on, are sent twice and answer with
// the second result: DynamoDB applied the first, its answer was lost and the
// SDK retried.
type lostAnswer struct {
	DB
	on bool
}

func (l *lostAnswer) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if l.on {
		if _, err := l.DB.PutItem(ctx, in, o...); err != nil {
			return nil, err
		}
	}
	return l.DB.PutItem(ctx, in, o...)
}

func (l *lostAnswer) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if l.on {
		if _, err := l.DB.UpdateItem(ctx, in, o...); err != nil {
			return nil, err
		}
	}
	return l.DB.UpdateItem(ctx, in, o...)
}

func (l *lostAnswer) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if l.on {
		first := *in
		first.ClientRequestToken = nil // a request DynamoDB does not recognise as the same
		if _, err := l.DB.TransactWriteItems(ctx, &first, o...); err != nil {
			return nil, err
		}
		in.ClientRequestToken = aws.String(fmt.Sprint(time.Now().UnixNano()))
	}
	return l.DB.TransactWriteItems(ctx, in, o...)
}

var tableSeq atomic.Int64

func newTable(t *testing.T) (*Table, *lostAnswer, *dynamodb.Client, string) {
	t.Helper()
	srv := mototest.Require(t)
	db := dynamodb.NewFromConfig(srv.Config("eu-west-1"))
	name := fmt.Sprintf("lease-%d-%d", time.Now().UnixNano(), tableSeq.Add(1))
	// The idempotency records live in the orders table: test on its layout.
	mototest.CreateTable(t, db, "OrdersTable", name)
	la := &lostAnswer{DB: db}
	return New(la, name, layout), la, db, name
}

func TestIntegrationProtocol(t *testing.T) {
	t.Parallel()
	tb, la, _, _ := newTable(t)
	ctx := context.Background()
	c := Claim{Key: "k", Token: "mine", LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour),
		Attrs: map[string]types.AttributeValue{"extra": ddbattr.S("y")}}

	la.on = true
	if err := tb.Acquire(ctx, c, now); err != nil {
		t.Fatalf("acquire, answer lost: %v", err)
	}
	la.on = false
	other := c
	other.Token = "other"
	var held *HeldError
	if err := tb.Acquire(ctx, other, now.Add(time.Second)); !errors.As(err, &held) || held.Record.State != Held || held.Record.Token != "mine" ||
		held.Record.Abandoned(now.Add(time.Second)) || ddbattr.NewReader(held.Record.Item).S("extra") != "y" {
		t.Fatalf("second acquire: %v %+v", err, held)
	}
	if !held.Record.Abandoned(now.Add(time.Minute)) {
		t.Fatal("not abandoned after its lease")
	}
	la.on = true
	if err := tb.TakeOver(ctx, "k", "mine", "new", now.Add(2*time.Minute)); err != nil {
		t.Fatalf("take over, answer lost: %v", err)
	}
	la.on = false
	if err := tb.Complete(ctx, "k", "mine", nil); !errors.Is(err, ErrLost) {
		t.Fatalf("complete by the attempt taken over: %v, want ErrLost", err)
	}
	if err := tb.Release(ctx, "k", "mine"); !errors.Is(err, ErrLost) {
		t.Fatalf("release by the attempt taken over: %v, want ErrLost", err)
	}
	la.on = true
	if err := tb.Complete(ctx, "k", "new", map[string]types.AttributeValue{"decision": ddbattr.S("acted")}); err != nil {
		t.Fatalf("complete, answer lost: %v", err)
	}
	la.on = false
	held = nil
	if err := tb.Acquire(ctx, other, now.Add(time.Hour-time.Second)); !errors.As(err, &held) || held.Record.State != Done ||
		!held.Record.LeaseUntil.IsZero() || ddbattr.NewReader(held.Record.Item).S("decision") != "acted" {
		t.Fatalf("acquire of a done record: %v %+v", err, held)
	}
	if err := tb.Acquire(ctx, other, now.Add(time.Hour+time.Second)); err != nil {
		t.Fatalf("acquire after the TTL: %v", err)
	}
}

func TestIntegrationRelease(t *testing.T) {
	t.Parallel()
	tb, la, _, _ := newTable(t)
	ctx := context.Background()
	c := Claim{Key: "r", Token: "mine", LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
	if err := tb.Acquire(ctx, c, now); err != nil {
		t.Fatal(err)
	}
	la.on = true
	if err := tb.Release(ctx, "r", "mine"); err != nil {
		t.Fatalf("release, answer lost: %v", err)
	}
	la.on = false
	c.Token = "next"
	var held *HeldError
	if err := tb.Acquire(ctx, c, now); !errors.As(err, &held) || !held.Record.Abandoned(now) {
		t.Fatalf("acquire after release: %v %+v, want an abandoned record", err, held)
	}
	if err := tb.TakeOver(ctx, "r", held.Record.Token, "next", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := tb.TakeOver(ctx, "r", "mine", "third", now.Add(time.Minute)); !errors.Is(err, ErrLost) {
		t.Fatalf("second take over from the same token: %v, want ErrLost", err)
	}
	if err := tb.Complete(ctx, "absent", "mine", nil); !errors.Is(err, ErrLost) {
		t.Fatalf("complete of no record: %v, want ErrLost", err)
	}
}

func TestIntegrationAcquireWith(t *testing.T) {
	t.Parallel()
	tb, la, db, name := newTable(t)
	ctx := context.Background()
	orderPut := func(id string) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(name), Item: ddbattr.Key("pk", id),
			ConditionExpression: aws.String("attribute_not_exists(pk)")}}
	}
	c := Claim{Key: "t", Token: "mine", LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
	la.on = true
	if err := tb.AcquireWith(ctx, c, now, orderPut("ORDER#1")); err != nil {
		t.Fatalf("acquire with, answer lost: %v", err)
	}
	la.on = false
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(name), Key: ddbattr.Key("pk", "ORDER#1")})
	if err != nil || len(out.Item) == 0 {
		t.Fatalf("the other write is missing: %v", err)
	}
	c.Token = "other"
	var held *HeldError
	if err := tb.AcquireWith(ctx, c, now, orderPut("ORDER#2")); !errors.As(err, &held) || held.Record.Token != "mine" {
		t.Fatalf("acquire with of a held key: %v", err)
	}
	c.Key = "u"
	err = tb.AcquireWith(ctx, c, now, orderPut("ORDER#1"))
	var of *OtherFailedError
	if !errors.As(err, &of) || !of.Has(0) || len(of.Indexes) != 1 {
		t.Fatalf("acquire with a failing other write: %v, want an *OtherFailedError of 0", err)
	}
	if out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(name), Key: ddbattr.Key("pk", "u"), ConsistentRead: aws.Bool(true)}); err != nil || len(out.Item) != 0 {
		t.Fatalf("the record was written by a cancelled transaction: %v %v", out, err)
	}
}

// A ConditionCheck among the others (the orders API's "no erasure of this
// owner"): moto, like DynamoDB, reports every item's reason in request
// order, ConditionalCheckFailed for a ConditionCheck too, so a failed check
// is reported even where the record's own condition fails as well (a
// replayed key), and wins over it.
func TestIntegrationAcquireWithConditionCheck(t *testing.T) {
	t.Parallel()
	tb, la, db, name := newTable(t)
	ctx := context.Background()
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: ddbattr.Key("pk", "GATE#closed")}); err != nil {
		t.Fatal(err)
	}
	gate := func(key string) types.TransactWriteItem {
		return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(name), Key: ddbattr.Key("pk", key),
			ConditionExpression: aws.String("attribute_not_exists(#pk)"), ExpressionAttributeNames: map[string]string{"#pk": "pk"}}}
	}
	orderPut := func(id string) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(name), Item: ddbattr.Key("pk", id),
			ConditionExpression: aws.String("attribute_not_exists(pk)")}}
	}

	// What the endpoint answers, item by item, when the record's put and the
	// check both fail: the raw reasons this package relies on.
	c := Claim{Key: "c", Token: "mine", LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
	la.on = true // committed once, then sent again: the put and the order put fail
	if err := tb.AcquireWith(ctx, c, now, orderPut("ORDER#c"), gate("GATE#open")); err != nil {
		t.Fatalf("acquire with an open gate, answer lost: %v", err)
	}
	la.on = false
	_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: tb.put(Claim{Key: "c", Token: "raw", LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}, now)},
		orderPut("ORDER#raw"), gate("GATE#closed")}})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || len(tce.CancellationReasons) != 3 {
		t.Fatalf("raw transaction: %v, want 3 cancellation reasons", err)
	}
	var codes []string
	for _, r := range tce.CancellationReasons {
		codes = append(codes, aws.ToString(r.Code))
	}
	if fmt.Sprint(codes) != "[ConditionalCheckFailed None ConditionalCheckFailed]" {
		t.Fatalf("cancellation reasons %v", codes)
	}
	if len(tce.CancellationReasons[0].Item) == 0 {
		t.Fatal("the record's old item was not returned")
	}

	tests := []struct {
		name  string
		token string
		key   string
		gate  string
		want  []int // nil: success
	}{
		{"new key, closed gate", "other", "d", "GATE#closed", []int{1}},
		{"held key of another, closed gate", "other", "c", "GATE#closed", []int{1}},
		{"own committed transaction retried, gate closed since", "mine", "c", "GATE#closed", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Claim{Key: tt.key, Token: tt.token, LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
			err := tb.AcquireWith(ctx, c, now, orderPut("ORDER#"+tt.name), gate(tt.gate))
			var of *OtherFailedError
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("err = %v, want success", err)
			case tt.want != nil && (!errors.As(err, &of) || fmt.Sprint(of.Indexes) != fmt.Sprint(tt.want)):
				t.Fatalf("err = %v, want an *OtherFailedError of %v", err, tt.want)
			}
		})
	}
	if out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(name), Key: ddbattr.Key("pk", "d"), ConsistentRead: aws.Bool(true)}); err != nil || len(out.Item) != 0 {
		t.Fatalf("a record was written past a closed gate: %v %v", out, err)
	}
}
