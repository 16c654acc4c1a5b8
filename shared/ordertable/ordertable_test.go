package ordertable

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/ddbattr"
	"github.com/homeregion/homeregion/shared/lease"
	"github.com/homeregion/homeregion/shared/orders"
)

// fakeDB is a hand-written GetItemAPI and UpdateItemAPI.
type fakeDB struct {
	updates []*dynamodb.UpdateItemInput
	gets    []*dynamodb.GetItemInput
	item    map[string]types.AttributeValue
	err     error
}

func (f *fakeDB) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.updates = append(f.updates, in)
	return &dynamodb.UpdateItemOutput{}, f.err
}

func (f *fakeDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.gets = append(f.gets, in)
	return &dynamodb.GetItemOutput{Item: f.item}, f.err
}

var now = time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)

var errAny = errors.New("any error")

func TestAdvance(t *testing.T) {
	tests := []struct {
		name      string
		to        orders.Status
		err       error
		wantCalls int
		wantErr   error // nil: success; errAny: some error
	}{
		{"forward", orders.StatusCompleted, nil, 1, nil},
		{"failed", orders.StatusFailed, nil, 1, nil},
		{"failed: already terminal", orders.StatusFailed, &types.ConditionalCheckFailedException{Item: map[string]types.AttributeValue{AttrStatus: ddbattr.S("COMPLETED")}}, 1, nil},
		{"already there or past", orders.StatusCompleted, &types.ConditionalCheckFailedException{Item: map[string]types.AttributeValue{AttrStatus: ddbattr.S("COMPLETED")}}, 1, nil},
		{"unknown order", orders.StatusCompleted, &types.ConditionalCheckFailedException{}, 1, orders.ErrUnknownOrder},
		{"store down", orders.StatusCompleted, errors.New("connection refused"), 1, errAny},
		{"first status is never a transition", orders.StatusAccepted, nil, 0, errAny},
		{"invalid status", "SHIPPED", nil, 0, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := &fakeDB{err: tt.err}
			err := Advance(context.Background(), db, "orders", "o1", tt.to, now)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("Advance: %v", err)
			case tt.wantErr == errAny && err == nil:
				t.Fatal("Advance succeeded, want an error")
			case tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("Advance error = %v, want %v", err, tt.wantErr)
			}
			if len(db.updates) != tt.wantCalls {
				t.Fatalf("%d UpdateItem calls, want %d", len(db.updates), tt.wantCalls)
			}
			if tt.wantCalls == 1 {
				in := db.updates[0]
				v := ddbattr.NewReader(in.ExpressionAttributeValues)
				if got := v.S(":from0"); got != string(orders.StatusAccepted) {
					t.Errorf("condition allows from %q, want ACCEPTED only", got)
				}
				if _, ok := in.ExpressionAttributeValues[":from1"]; ok {
					t.Error("condition allows more than one earlier status")
				}
				if got := ddbattr.NewReader(in.Key).S(AttrPK); got != OrderKey("o1") {
					t.Errorf("key = %q", got)
				}
				if got := v.Time(":now"); !got.Equal(now) {
					t.Errorf("updatedAt = %v", got)
				}
			}
		})
	}
}

func TestCreateAndGet(t *testing.T) {
	o := Order{ID: "o1", Owner: "sub", Status: orders.StatusAccepted, CreatedAt: now, UpdatedAt: now.Add(time.Second)}
	put := Create("orders", o).Put
	if aws.ToString(put.TableName) != "orders" || aws.ToString(put.ConditionExpression) != "attribute_not_exists(#pk)" || put.ExpressionAttributeNames["#pk"] != AttrPK {
		t.Fatalf("put %+v", put)
	}
	db := &fakeDB{item: put.Item}
	got, err := Get(context.Background(), db, "orders", "o1")
	if err != nil || got != o {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, o)
	}
	if in := db.gets[0]; !aws.ToBool(in.ConsistentRead) || ddbattr.NewReader(in.Key).S(AttrPK) != "ORDER#o1" {
		t.Errorf("get %+v", in)
	}

	tests := []struct {
		name string
		item map[string]types.AttributeValue
		err  error
		want error
	}{
		{"unknown", nil, nil, orders.ErrUnknownOrder},
		{"no status", map[string]types.AttributeValue{AttrOwner: ddbattr.S("sub")}, nil, ErrCorrupt},
		{"malformed time", map[string]types.AttributeValue{AttrOwner: ddbattr.S("sub"), AttrStatus: ddbattr.S("ACCEPTED"), AttrCreatedAt: ddbattr.S("x")}, nil, ErrCorrupt},
		{"store down", nil, errors.New("connection refused"), errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Get(context.Background(), &fakeDB{item: tt.item, err: tt.err}, "orders", "o1")
			if tt.want == errAny {
				if err == nil || errors.Is(err, ErrCorrupt) || errors.Is(err, orders.ErrUnknownOrder) {
					t.Fatalf("err = %v, want a dependency error", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestIdem(t *testing.T) {
	i := Idem{Owner: "sub", RequestHash: "abc", OrderID: "o1", CreatedAt: now}
	got, err := IdemOf(lease.Record{Item: i.Attrs()})
	if err != nil || got != i {
		t.Fatalf("IdemOf(Attrs) = %+v, %v; want %+v", got, err, i)
	}
	for name := range i.Attrs() {
		switch name {
		case IdemLayout.Key, IdemLayout.State, IdemLayout.Token, IdemLayout.LeaseUntil, IdemLayout.ExpiresAt:
			t.Errorf("Idem attribute %s collides with the lease layout", name)
		}
	}
	if _, err := IdemOf(lease.Record{Item: map[string]types.AttributeValue{AttrOwner: ddbattr.S("sub")}}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("IdemOf of a record without hash: %v, want ErrCorrupt", err)
	}
	noTime := i.Attrs()
	delete(noTime, AttrCreatedAt)
	if _, err := IdemOf(lease.Record{Item: noTime}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("IdemOf of a record without createdAt: %v, want ErrCorrupt", err)
	}
}

func TestIdemKey(t *testing.T) {
	a := IdemKey("owner-a", "k")
	if a == IdemKey("owner-b", "k") || a == IdemKey("owner-a", "k2") || a != IdemKey("owner-a", "k") || !strings.HasPrefix(a, "IDEM#") {
		t.Fatalf("IdemKey not a per-owner, per-key function: %s", a)
	}
	// The separator keeps (owner, key) pairs apart that concatenate alike.
	if IdemKey("ab", "c") == IdemKey("a", "bc") {
		t.Fatal("IdemKey(ab, c) == IdemKey(a, bc)")
	}
}
