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
	if f.err != nil {
		return nil, f.err
	}
	return &dynamodb.UpdateItemOutput{Attributes: f.item}, nil
}

func (f *fakeDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.gets = append(f.gets, in)
	return &dynamodb.GetItemOutput{Item: f.item}, f.err
}

var now = time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)

var errAny = errors.New("any error")

func TestClaim(t *testing.T) {
	item := func(status, claim, store string) map[string]types.AttributeValue {
		m := map[string]types.AttributeValue{AttrPK: ddbattr.S("ORDER#o1"), AttrStatus: ddbattr.S(status)}
		if claim != "" {
			m[AttrClaim], m[AttrClaimStore] = ddbattr.S(claim), ddbattr.S(store)
		}
		return m
	}
	ccf := func(m map[string]types.AttributeValue) error { return &types.ConditionalCheckFailedException{Item: m} }
	tests := []struct {
		name    string
		out     map[string]types.AttributeValue // ALL_NEW on success
		err     error
		want    ClaimResult
		wantErr error
	}{
		{"won", item("ACCEPTED", "t1", "db1"), nil, ClaimResult{Won: true, Status: orders.StatusAccepted, Store: "db1"}, nil},
		{"won again, already settled by this token", item("COMPLETED", "t1", "db1"), nil, ClaimResult{Won: true, Status: orders.StatusCompleted, Store: "db1"}, nil},
		{"lost to another store", nil, ccf(item("ACCEPTED", "t2", "db2")), ClaimResult{Status: orders.StatusAccepted, Store: "db2"}, nil},
		{"settled by another store", nil, ccf(item("COMPLETED", "t2", "db2")), ClaimResult{Status: orders.StatusCompleted, Store: "db2"}, nil},
		{"failed as poison, never claimed", nil, ccf(item("FAILED", "", "")), ClaimResult{Status: orders.StatusFailed}, nil},
		{"unknown order", nil, ccf(nil), ClaimResult{}, orders.ErrUnknownOrder},
		{"corrupt record", nil, ccf(map[string]types.AttributeValue{AttrStatus: ddbattr.N(3)}), ClaimResult{}, ErrCorrupt},
		{"store down", nil, errors.New("connection refused"), ClaimResult{}, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := &fakeDB{err: tt.err, item: tt.out}
			got, err := Claim(context.Background(), db, "orders", "o1", "t1", "db1", now)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("Claim: %v", err)
			case tt.wantErr == errAny && (err == nil || errors.Is(err, ErrCorrupt) || errors.Is(err, orders.ErrUnknownOrder)):
				t.Fatalf("Claim error = %v, want a dependency error", err)
			case tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("Claim error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("Claim = %+v, want %+v", got, tt.want)
			}
			in := db.updates[0]
			cond := aws.ToString(in.ConditionExpression)
			v := ddbattr.NewReader(in.ExpressionAttributeValues)
			if !strings.Contains(cond, "attribute_not_exists(#claim)") || !strings.Contains(cond, "#claim = :t") ||
				v.S(":t") != "t1" || v.S(":s") != "db1" || v.S(":accepted") != "ACCEPTED" {
				t.Fatalf("claim write %q %v: must take an unclaimed ACCEPTED order or repeat its own token", cond, in.ExpressionAttributeValues)
			}
		})
	}
	if _, err := Claim(context.Background(), &fakeDB{}, "orders", "o1", "", "db1", now); err == nil {
		t.Fatal("a claim without a token succeeded")
	}
}

func TestSettle(t *testing.T) {
	ccf := func(status, claim string) error {
		m := map[string]types.AttributeValue{AttrStatus: ddbattr.S(status)}
		if claim != "" {
			m[AttrClaim] = ddbattr.S(claim)
		}
		return &types.ConditionalCheckFailedException{Item: m}
	}
	tests := []struct {
		name     string
		to       orders.Status
		token    string
		err      error
		wantCond string
		wantErr  error // nil: success; errAny: some error
	}{
		{"complete by the claim", orders.StatusCompleted, "t1", nil, "#claim = :t", nil},
		{"fail by the claim", orders.StatusFailed, "t1", nil, "#claim = :t", nil},
		{"fail a poison order, unclaimed only", orders.StatusFailed, "", nil, "attribute_not_exists(#claim)", nil},
		{"repeated", orders.StatusCompleted, "t1", ccf("COMPLETED", "t1"), "", nil},
		{"claimed by another", orders.StatusCompleted, "t1", ccf("ACCEPTED", "t2"), "", ErrClaimLost},
		{"settled by another", orders.StatusFailed, "", ccf("COMPLETED", "t2"), "", ErrClaimLost},
		{"completed, then failed by the same claim", orders.StatusFailed, "t1", ccf("COMPLETED", "t1"), "", ErrClaimLost},
		{"unknown order", orders.StatusCompleted, "t1", &types.ConditionalCheckFailedException{}, "", orders.ErrUnknownOrder},
		{"store down", orders.StatusCompleted, "t1", errors.New("connection refused"), "", errAny},
		{"not terminal", orders.StatusAccepted, "t1", nil, "", errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := &fakeDB{err: tt.err}
			err := Settle(context.Background(), db, "orders", "o1", tt.to, tt.token, now)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("Settle: %v", err)
			case tt.wantErr == errAny && err == nil:
				t.Fatal("Settle succeeded, want an error")
			case tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("Settle error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantCond == "" {
				return
			}
			in := db.updates[0]
			cond := aws.ToString(in.ConditionExpression)
			v := ddbattr.NewReader(in.ExpressionAttributeValues)
			if !strings.Contains(cond, "#status = :accepted") || !strings.HasSuffix(cond, tt.wantCond) ||
				v.S(":to") != string(tt.to) || !v.Time(":now").Equal(now) || ddbattr.NewReader(in.Key).S(AttrPK) != "ORDER#o1" {
				t.Fatalf("settle write %q %v", cond, in.ExpressionAttributeValues)
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
