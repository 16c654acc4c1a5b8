package ordertable

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// putFunc is a PutItemAPI.
type putFunc func(in *dynamodb.PutItemInput) error

func (f putFunc) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return &dynamodb.PutItemOutput{}, f(in)
}

// RequestErasure writes the user's home region, and none when not given
// (a record read as the reader's own region's: IsHome).
func TestRequestErasureHome(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		home      string
		readBy    string
		wantAttr  bool
		wantHomed bool
	}{
		{home: "eu-central-1", readBy: "eu-central-1", wantAttr: true, wantHomed: true},
		{home: "eu-central-1", readBy: "eu-west-1", wantAttr: true, wantHomed: false},
		{home: "", readBy: "eu-west-1", wantAttr: false, wantHomed: true},
	} {
		var item *dynamodb.PutItemInput
		e, created, err := RequestErasure(context.Background(), putFunc(func(in *dynamodb.PutItemInput) error { item = in; return nil }),
			"orders", "sub", "er-1", ViaUser, tc.home, now)
		if err != nil || !created {
			t.Fatalf("home %q: %v, %v", tc.home, created, err)
		}
		if _, ok := item.Item[AttrHome]; ok != tc.wantAttr {
			t.Errorf("home %q: attribute %s written %v, want %v", tc.home, AttrHome, ok, tc.wantAttr)
		}
		if e.Home != tc.home {
			t.Errorf("home %q: decoded %q", tc.home, e.Home)
		}
		if got := e.IsHome(tc.readBy); got != tc.wantHomed {
			t.Errorf("home %q: IsHome(%q) = %v, want %v", tc.home, tc.readBy, got, tc.wantHomed)
		}
	}
}
