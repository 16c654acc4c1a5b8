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

type fakeDB struct {
	get func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error)
	put func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error)
}

func (f *fakeDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return f.get(in)
}

func (f *fakeDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return f.put(in)
}

func item(key, home string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrKey:           &types.AttributeValueMemberS{Value: key},
		AttrHomeRegion:    &types.AttributeValueMemberS{Value: home},
		AttrCreatedAt:     &types.AttributeValueMemberS{Value: "2026-01-02T03:04:05Z"},
		AttrPolicyVersion: &types.AttributeValueMemberS{Value: "v0"},
	}
}

func noCall(t *testing.T, what string) *fakeDB {
	return &fakeDB{
		get: func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
			t.Errorf("%s: unexpected GetItem", what)
			return nil, errors.New("unexpected")
		},
		put: func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
			t.Errorf("%s: unexpected PutItem", what)
			return nil, errors.New("unexpected")
		},
	}
}

var fixed = time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)

func TestClaim(t *testing.T) {
	tests := []struct {
		name        string
		put         func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error)
		get         func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error)
		wantHome    string
		wantCreated bool
		wantErr     string
	}{
		{
			name:     "first claim wins",
			put:      func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) { return &dynamodb.PutItemOutput{}, nil },
			wantHome: "eu-central-1", wantCreated: true,
		},
		{
			name: "existing claim elsewhere is returned from the failed condition",
			put: func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
				return nil, &types.ConditionalCheckFailedException{Item: item("k", "us-east-1")}
			},
			wantHome: "us-east-1",
		},
		{
			name: "no old item in the failure: consistent read",
			put: func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
				return nil, &types.ConditionalCheckFailedException{}
			},
			get: func(in *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
				if in.ConsistentRead == nil || !*in.ConsistentRead {
					return nil, errors.New("want a consistent read")
				}
				return &dynamodb.GetItemOutput{Item: item("k", "eu-central-1")}, nil
			},
			wantHome: "eu-central-1",
		},
		{
			name: "condition failed but nothing there",
			put: func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
				return nil, &types.ConditionalCheckFailedException{}
			},
			get:     func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) { return &dynamodb.GetItemOutput{}, nil },
			wantErr: "condition failed but no claim found",
		},
		{
			name:    "other error is wrapped with the registry region",
			put:     func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) { return nil, errors.New("throttled") },
			wantErr: "claim in eu-west-1: throttled",
		},
		{
			name: "corrupt old item",
			put: func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
				return nil, &types.ConditionalCheckFailedException{Item: map[string]types.AttributeValue{AttrKey: &types.AttributeValueMemberS{Value: "k"}}}
			},
			wantErr: "corrupt claim item",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := &fakeDB{put: func(in *dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
				if *in.ConditionExpression != "attribute_not_exists(#k)" || in.ExpressionAttributeNames["#k"] != AttrKey || *in.TableName != "reg" {
					t.Errorf("unexpected PutItem %+v", in)
				}
				if _, ok := in.Item["email"]; ok || len(in.Item) != 4 {
					t.Errorf("claim item has unexpected attributes: %v", in.Item)
				}
				return tt.put(in)
			}, get: tt.get}
			r := New("reg", "eu-central-1", "eu-west-1", noCall(t, "local"), home, "v1")
			r.Now = func() time.Time { return fixed }
			rec, created, err := r.Claim(context.Background(), "k", "eu-central-1")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Claim error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Claim: %v", err)
			}
			if rec.HomeRegion != tt.wantHome || created != tt.wantCreated || rec.Key != "k" {
				t.Errorf("Claim = %+v, %v; want home %s created %v", rec, created, tt.wantHome, tt.wantCreated)
			}
			if created && (!rec.CreatedAt.Equal(fixed) || rec.PolicyVersion != "v1") {
				t.Errorf("new claim %+v lacks time or policy version", rec)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	hit := func(home string) func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
		return func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
			return &dynamodb.GetItemOutput{Item: item("k", home)}, nil
		}
	}
	miss := func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) { return &dynamodb.GetItemOutput{}, nil }
	tests := []struct {
		name         string
		region       string
		local, home  func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error)
		wantHome     string
		wantFound    bool
		wantErr      string
		wantHomeRead bool
	}{
		{name: "local hit", region: "eu-central-1", local: hit("eu-central-1"), wantHome: "eu-central-1", wantFound: true},
		{name: "replication lag: local miss, registry hit", region: "eu-central-1", local: miss, home: hit("us-east-1"), wantHome: "us-east-1", wantFound: true, wantHomeRead: true},
		{name: "miss everywhere", region: "eu-central-1", local: miss, home: miss, wantHomeRead: true},
		{name: "registry region: one consistent read only", region: "eu-west-1", local: miss},
		{name: "local error", region: "eu-central-1", local: func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) { return nil, errors.New("boom") }, wantErr: "lookup in eu-central-1: boom"},
		{name: "registry error", region: "eu-central-1", local: miss, home: func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) { return nil, errors.New("boom") }, wantErr: "lookup in eu-west-1: boom", wantHomeRead: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var homeRead bool
			local := &fakeDB{get: func(in *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
				if want := tt.region == "eu-west-1"; *in.ConsistentRead != want {
					t.Errorf("local ConsistentRead = %v, want %v", *in.ConsistentRead, want)
				}
				return tt.local(in)
			}}
			home := &fakeDB{get: func(in *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
				homeRead = true
				if !*in.ConsistentRead {
					t.Error("registry-region read is not strongly consistent")
				}
				return tt.home(in)
			}}
			r := New("reg", tt.region, "eu-west-1", local, home, "v1")
			rec, found, err := r.Lookup(context.Background(), "k")
			if homeRead != tt.wantHomeRead {
				t.Errorf("registry-region read = %v, want %v", homeRead, tt.wantHomeRead)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Lookup error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || found != tt.wantFound || rec.HomeRegion != tt.wantHome {
				t.Errorf("Lookup = %+v, %v, %v; want %s, %v", rec, found, err, tt.wantHome, tt.wantFound)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		item map[string]types.AttributeValue
		ok   bool
	}{
		{"full", item("k", "eu-west-1"), true},
		{"no created-at", map[string]types.AttributeValue{AttrKey: &types.AttributeValueMemberS{Value: "k"}, AttrHomeRegion: &types.AttributeValueMemberS{Value: "r"}}, true},
		{"bad created-at", map[string]types.AttributeValue{AttrKey: &types.AttributeValueMemberS{Value: "k"}, AttrHomeRegion: &types.AttributeValueMemberS{Value: "r"}, AttrCreatedAt: &types.AttributeValueMemberS{Value: "yesterday"}}, false},
		{"home region wrong type", map[string]types.AttributeValue{AttrKey: &types.AttributeValueMemberS{Value: "k"}, AttrHomeRegion: &types.AttributeValueMemberN{Value: "1"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode(tt.item)
			if (err == nil) != tt.ok {
				t.Errorf("decode error = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v does not wrap ErrCorrupt", err)
			}
		})
	}
}
