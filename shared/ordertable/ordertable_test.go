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

func TestKeyOrderID(t *testing.T) {
	a := KeyOrderID(IdemKey("owner-a", "k"))
	if a != KeyOrderID(IdemKey("owner-a", "k")) || a == KeyOrderID(IdemKey("owner-a", "k2")) || a == KeyOrderID(IdemKey("owner-b", "k")) {
		t.Fatalf("KeyOrderID not a function of (owner, key) alone: %s", a)
	}
	// An id as the orders API's random ones: 26 characters of 0-9a-v.
	if len(a) != 26 || strings.Trim(a, "0123456789abcdefghijklmnopqrstuv") != "" {
		t.Fatalf("KeyOrderID %q: want 26 characters of 0-9a-v", a)
	}
	// Pinned (computed independently: Python hashlib and base64): records
	// written by one version must be found by the next.
	if got, want := KeyOrderID("IDEM#x"), "ju7c12srp4lc24r1kttshvnj9k"; got != want {
		t.Errorf("KeyOrderID(IDEM#x) = %s, want %s (changing the derivation orphans every pair order)", got, want)
	}
}

// TestPairOrder: a pair order record round-trips, and its lease layout
// shares no attribute with the status record, the site's claim (Claim) or
// a tombstone (EraseOrder): the API's lease token must never read as a
// site's claim, or no site could claim the order.
func TestPairOrder(t *testing.T) {
	p := KeyedOrder{Order: Order{ID: "o1", Owner: "sub", Status: orders.StatusAccepted, CreatedAt: now, UpdatedAt: now}, RequestHash: "abc"}
	got, err := KeyedOrderOf(lease.Record{Key: OrderKey("o1"), Item: p.Attrs()})
	if err != nil || got != p {
		t.Fatalf("KeyedOrderOf(Attrs) = %+v, %v; want %+v", got, err, p)
	}
	for _, name := range []string{KeyedLayout.Key, KeyedLayout.State, KeyedLayout.Token, KeyedLayout.LeaseUntil} {
		switch name {
		case AttrOwner, AttrStatus, AttrCreatedAt, AttrUpdatedAt, AttrRequestHash, AttrClaim, AttrClaimStore, AttrClaimedAt, AttrExpiresAt, AttrErasureID:
			t.Errorf("KeyedLayout attribute %s collides with an order record's", name)
		}
	}
	if KeyedLayout.Key != AttrPK || KeyedLayout.ExpiresAt != "" {
		t.Errorf("KeyedLayout: key %q, TTL %q; want %q and none (a pair table has no TTL)", KeyedLayout.Key, KeyedLayout.ExpiresAt, AttrPK)
	}
	tomb := map[string]types.AttributeValue{AttrStatus: ddbattr.S(string(orders.StatusErased)), AttrRequestHash: ddbattr.S("abc")}
	if got, err := KeyedOrderOf(lease.Record{Key: OrderKey("o1"), Item: tomb}); err != nil || got.Status != orders.StatusErased || got.Owner != "" {
		t.Errorf("KeyedOrderOf(tombstone) = %+v, %v; want status ERASED", got, err)
	}
	for name, item := range map[string]map[string]types.AttributeValue{"no owner": p.Attrs(), "no hash": p.Attrs(), "no createdAt": p.Attrs()} {
		delete(item, map[string]string{"no owner": AttrOwner, "no hash": AttrRequestHash, "no createdAt": AttrCreatedAt}[name])
		if _, err := KeyedOrderOf(lease.Record{Key: OrderKey("o1"), Item: item}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("KeyedOrderOf(%s): %v, want ErrCorrupt", name, err)
		}
	}
	if _, err := KeyedOrderOf(lease.Record{Key: IdemKey("sub", "k"), Item: p.Attrs()}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("KeyedOrderOf of an IDEM# key: %v, want ErrCorrupt", err)
	}
}
