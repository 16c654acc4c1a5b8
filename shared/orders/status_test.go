package orders

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// fakeUpdate is a hand-written UpdateItemAPI.
type fakeUpdate struct {
	calls []*dynamodb.UpdateItemInput
	err   error
}

func (f *fakeUpdate) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.calls = append(f.calls, in)
	return &dynamodb.UpdateItemOutput{}, f.err
}

func TestStatusOrder(t *testing.T) {
	tests := []struct {
		from, to Status
		want     bool
	}{
		{StatusAccepted, StatusCompleted, true},
		{StatusCompleted, StatusAccepted, false},
		{StatusAccepted, StatusAccepted, false},
		{"", StatusAccepted, false},
		{StatusAccepted, "SHIPPED", false},
		{StatusAccepted, StatusFailed, true},
		{StatusFailed, StatusCompleted, false},
		{StatusCompleted, StatusFailed, false},
		{StatusFailed, StatusAccepted, false},
	}
	for _, tt := range tests {
		if got := tt.from.Before(tt.to); got != tt.want {
			t.Errorf("%q.Before(%q) = %t, want %t", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestAdvance(t *testing.T) {
	now := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		to        Status
		err       error
		wantCalls int
		wantErr   error // nil: success; errAny: some error
	}{
		{"forward", StatusCompleted, nil, 1, nil},
		{"failed", StatusFailed, nil, 1, nil},
		{"failed: already terminal", StatusFailed, &types.ConditionalCheckFailedException{Item: map[string]types.AttributeValue{AttrStatus: &types.AttributeValueMemberS{Value: "COMPLETED"}}}, 1, nil},
		{"already there or past", StatusCompleted, &types.ConditionalCheckFailedException{Item: map[string]types.AttributeValue{AttrStatus: &types.AttributeValueMemberS{Value: "COMPLETED"}}}, 1, nil},
		{"unknown order", StatusCompleted, &types.ConditionalCheckFailedException{}, 1, ErrUnknownOrder},
		{"store down", StatusCompleted, errors.New("connection refused"), 1, errAny},
		{"first status is never a transition", StatusAccepted, nil, 0, errAny},
		{"invalid status", "SHIPPED", nil, 0, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := &fakeUpdate{err: tt.err}
			err := Advance(context.Background(), db, "orders", "o1", tt.to, now)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("Advance: %v", err)
			case tt.wantErr == errAny && err == nil:
				t.Fatal("Advance succeeded, want an error")
			case tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("Advance error = %v, want %v", err, tt.wantErr)
			}
			if len(db.calls) != tt.wantCalls {
				t.Fatalf("%d UpdateItem calls, want %d", len(db.calls), tt.wantCalls)
			}
			if tt.wantCalls == 1 {
				in := db.calls[0]
				if got := in.ExpressionAttributeValues[":from0"].(*types.AttributeValueMemberS).Value; got != string(StatusAccepted) {
					t.Errorf("condition allows from %q, want ACCEPTED only", got)
				}
				if _, ok := in.ExpressionAttributeValues[":from1"]; ok {
					t.Error("condition allows more than one earlier status")
				}
				if got := in.Key[AttrPK].(*types.AttributeValueMemberS).Value; got != OrderKey("o1") {
					t.Errorf("key = %q", got)
				}
			}
		})
	}
}

var errAny = errors.New("any error")
