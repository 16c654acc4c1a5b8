package registry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

type fakeDeleter struct {
	del func(*dynamodb.DeleteItemInput) (*dynamodb.DeleteItemOutput, error)
}

func (f *fakeDeleter) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return f.del(in)
}

func TestRelease(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	tests := []struct {
		name         string
		del          func(*dynamodb.DeleteItemInput) (*dynamodb.DeleteItemOutput, error)
		wantReleased bool
		wantErr      string
	}{
		{
			name: "the observed claim is deleted",
			del: func(*dynamodb.DeleteItemInput) (*dynamodb.DeleteItemOutput, error) {
				return &dynamodb.DeleteItemOutput{}, nil
			},
			wantReleased: true,
		},
		{
			name: "another claim (or none) fails the condition: kept, not an error",
			del: func(*dynamodb.DeleteItemInput) (*dynamodb.DeleteItemOutput, error) {
				return nil, &types.ConditionalCheckFailedException{}
			},
		},
		{
			name: "a throttled call is an error naming the registry region",
			del: func(*dynamodb.DeleteItemInput) (*dynamodb.DeleteItemOutput, error) {
				return nil, errors.New("throttled")
			},
			wantErr: "release in eu-west-1: throttled",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *dynamodb.DeleteItemInput
			d := &fakeDeleter{del: func(in *dynamodb.DeleteItemInput) (*dynamodb.DeleteItemOutput, error) {
				got = in
				return tt.del(in)
			}}
			r := New("reg", "eu-central-1", "eu-west-1", noCall(t, "local"), noCall(t, "home"), "v1")
			r.Deleter = d
			released, err := r.Release(context.Background(), "k", "eu-central-1", created)
			if released != tt.wantReleased || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Release = %v, %v; want %v, %q", released, err, tt.wantReleased, tt.wantErr)
			}
			if got == nil || *got.TableName != "reg" || *got.ConditionExpression != "#home = :region AND #created = :created" {
				t.Fatalf("DeleteItem input = %+v", got)
			}
			v := got.ExpressionAttributeValues
			if v[":region"].(*types.AttributeValueMemberS).Value != "eu-central-1" ||
				v[":created"].(*types.AttributeValueMemberS).Value != "2026-01-02T03:04:05.0000006Z" ||
				got.Key[AttrKey].(*types.AttributeValueMemberS).Value != "k" {
				t.Fatalf("DeleteItem key/values = %+v %+v", got.Key, v)
			}
		})
	}
	t.Run("no deleter", func(t *testing.T) {
		r := New("reg", "eu-central-1", "eu-west-1", noCall(t, "local"), noCall(t, "home"), "v1")
		if _, err := r.Release(context.Background(), "k", "eu-central-1", created); err == nil {
			t.Fatal("Release without a deleter succeeded")
		}
	})
}
