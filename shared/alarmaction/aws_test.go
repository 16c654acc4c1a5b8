package alarmaction

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/ddbattr"
)

// fakeDDB is a hand-written DynamoDBAPI: PutItem and UpdateItem answer with
// their error fields and record the calls.
type fakeDDB struct {
	putErr, updateErr error
	calls             []string
	updates           []*dynamodb.UpdateItemInput
}

func (f *fakeDDB) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.calls = append(f.calls, "GetItem")
	return &dynamodb.GetItemOutput{}, nil
}

func (f *fakeDDB) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.calls = append(f.calls, "PutItem")
	return &dynamodb.PutItemOutput{}, f.putErr
}

func (f *fakeDDB) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.calls = append(f.calls, "UpdateItem")
	f.updates = append(f.updates, in)
	return &dynamodb.UpdateItemOutput{}, f.updateErr
}

func (f *fakeDDB) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.calls = append(f.calls, "TransactWriteItems")
	return nil, errors.New("unexpected TransactWriteItems")
}

// errAny stands for "some error" in test tables.
var errAny = errors.New("any error")

func TestClaimEvent(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	claimed := func(st string, leaseUntil time.Time) error {
		return &ddbtypes.ConditionalCheckFailedException{Item: map[string]ddbtypes.AttributeValue{
			"pk": ddbattr.S("event#k"), "st": ddbattr.S(st), "token": ddbattr.S("other"),
			"leaseUntil": ddbattr.N(leaseUntil.UnixMilli()), "expiresAt": ddbattr.N(now.Add(time.Hour).Unix()),
		}}
	}
	lost := &ddbtypes.ConditionalCheckFailedException{Item: map[string]ddbtypes.AttributeValue{
		"pk": ddbattr.S("event#k"), "st": ddbattr.S("pending"), "token": ddbattr.S("third"), "leaseUntil": ddbattr.N(0)}}
	tests := []struct {
		name      string
		db        *fakeDDB
		wantOK    bool
		wantErr   error // nil: no error; errAny: any error
		wantCalls int
	}{
		{"new", &fakeDDB{}, true, nil, 1},
		{"being handled: retry later", &fakeDDB{putErr: claimed("pending", now.Add(time.Second))}, false, ErrInProgress, 1},
		{"handled", &fakeDDB{putErr: claimed("done", time.Time{})}, false, nil, 1},
		{"abandoned: taken over", &fakeDDB{putErr: claimed("pending", now)}, true, nil, 2},
		{"released: taken over", &fakeDDB{putErr: claimed("pending", time.UnixMilli(0))}, true, nil, 2},
		{"abandoned, another retry took it over first: retry later", &fakeDDB{putErr: claimed("pending", now), updateErr: lost}, false, ErrInProgress, 2},
		{"store down", &fakeDDB{putErr: errors.New("connection refused")}, false, errAny, 1},
		{"abandoned, take over fails", &fakeDDB{putErr: claimed("pending", now), updateErr: errors.New("connection refused")}, false, errAny, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claim, ok, err := NewDynamoStore(tt.db, "control").ClaimEvent(context.Background(), "k", now, time.Minute)
			errOK := err == nil && tt.wantErr == nil || err != nil && (tt.wantErr == errAny || errors.Is(err, tt.wantErr))
			if ok != tt.wantOK || !errOK || ok != (claim != "") {
				t.Fatalf("ClaimEvent = %q, %t, %v; want ok %t, error %v", claim, ok, err, tt.wantOK, tt.wantErr)
			}
			if len(tt.db.calls) != tt.wantCalls {
				t.Fatalf("calls %v, want %d", tt.db.calls, tt.wantCalls)
			}
			if len(tt.db.updates) == 1 {
				v := ddbattr.NewReader(tt.db.updates[0].ExpressionAttributeValues)
				if v.S(":token") != "other" || (ok && v.S(":new") != claim) {
					t.Errorf("take over from %q to %q, want from other to the claim %q", v.S(":token"), v.S(":new"), claim)
				}
			}
		})
	}
}

func TestFinishAndReleaseEvent(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	lost := &ddbtypes.ConditionalCheckFailedException{Item: map[string]ddbtypes.AttributeValue{
		"pk": ddbattr.S("event#k"), "st": ddbattr.S("pending"), "token": ddbattr.S("other"), "leaseUntil": ddbattr.N(0)}}

	db := &fakeDDB{}
	if err := NewDynamoStore(db, "control").FinishEvent(context.Background(), "k", "mine", "acted: x", now); err != nil {
		t.Fatal(err)
	}
	in := db.updates[0]
	if v := ddbattr.NewReader(in.ExpressionAttributeValues); v.S(":token") != "mine" || v.S(":a0") != "acted: x" && v.S(":a1") != "acted: x" {
		t.Errorf("finish %q %v", *in.UpdateExpression, in.ExpressionAttributeValues)
	}
	if err := NewDynamoStore(&fakeDDB{updateErr: lost}, "control").FinishEvent(context.Background(), "k", "mine", "acted: x", now); err == nil {
		t.Error("finish of a claim taken over succeeded")
	}
	if err := NewDynamoStore(&fakeDDB{updateErr: lost}, "control").ReleaseEvent(context.Background(), "k", "mine"); err != nil {
		t.Errorf("release of a claim taken over: %v, want nil (nothing to release)", err)
	}
	if err := NewDynamoStore(&fakeDDB{updateErr: errors.New("connection refused")}, "control").ReleaseEvent(context.Background(), "k", "mine"); err == nil {
		t.Error("release with the store down succeeded")
	}
}
