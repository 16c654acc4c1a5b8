package identity

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/homeregion/homeregion/internal/mototest"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// TestMultiRegionKeyDerivesSameKeyEverywhere creates a multi-Region HMAC key
// in one region, replicates it to another and checks both derive the same K.
func TestMultiRegionKeyDerivesSameKeyEverywhere(t *testing.T) {
	srv := mototest.Require(t)
	ctx := context.Background()
	primary := kms.NewFromConfig(srv.Config("eu-west-1"))
	created, err := primary.CreateKey(ctx, &kms.CreateKeyInput{
		MultiRegion: aws.Bool(true),
		KeySpec:     types.KeySpecHmac256,
		KeyUsage:    types.KeyUsageTypeGenerateVerifyMac,
	})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	id := *created.KeyMetadata.KeyId
	if _, err := primary.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("eu-central-1")}); err != nil {
		t.Fatalf("ReplicateKey: %v", err)
	}
	replica := kms.NewFromConfig(srv.Config("eu-central-1"))

	a, err := New(primary, id).Key(ctx, "Alice@Example.com")
	if err != nil {
		t.Fatalf("primary Key: %v", err)
	}
	b, err := New(replica, id).Key(ctx, " alice@example.COM ")
	if err != nil {
		t.Fatalf("replica Key: %v", err)
	}
	if a != b {
		t.Errorf("regions derived different identity keys: %q vs %q", a, b)
	}

	// A key that is not an HMAC key fails the derivation with a clear error.
	sym, err := primary.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("CreateKey symmetric: %v", err)
	}
	if _, err := New(primary, *sym.KeyMetadata.KeyId).Key(ctx, "a@b.c"); err == nil {
		t.Error("deriving from a symmetric encryption key: want an error")
	}
}
