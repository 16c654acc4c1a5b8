package registry

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/homeregion/homeregion/internal/mototest"
)

func TestMain(m *testing.M) { mototest.Main(m) }

func TestRegistryAgainstMoto(t *testing.T) {
	srv := mototest.Require(t)
	ctx := context.Background()
	table := fmt.Sprintf("registry-it-%d", time.Now().UnixNano()) // unique: a reused moto_server keeps tables
	reg := dynamodb.NewFromConfig(srv.Config("eu-west-1"))
	loc := dynamodb.NewFromConfig(srv.Config("eu-central-1"))
	for _, db := range []*dynamodb.Client{reg, loc} {
		mototest.CreateTable(t, db, "RegistryTable", table)
	}
	r := New(table, "eu-central-1", "eu-west-1", loc, reg, "v1")

	rec, created, err := r.Claim(ctx, "key-1", "eu-central-1")
	if err != nil || !created || rec.HomeRegion != "eu-central-1" {
		t.Fatalf("first Claim = %+v, %v, %v", rec, created, err)
	}
	rec, created, err = r.Claim(ctx, "key-1", "us-east-1")
	if err != nil || created || rec.HomeRegion != "eu-central-1" || rec.PolicyVersion != "v1" || rec.CreatedAt.IsZero() {
		t.Fatalf("second Claim = %+v, %v, %v; want the existing eu-central-1 claim", rec, created, err)
	}
	// Only the registry region holds the claim (moto does not replicate):
	// the local replica misses, the registry region's consistent read hits.
	if _, ok, err := r.LookupLocal(ctx, "key-1"); err != nil || ok {
		t.Fatalf("LookupLocal = %v, %v; want a miss", ok, err)
	}
	rec, ok, err := r.Lookup(ctx, "key-1")
	if err != nil || !ok || rec.HomeRegion != "eu-central-1" {
		t.Fatalf("Lookup = %+v, %v, %v", rec, ok, err)
	}
	if _, ok, err := r.Lookup(ctx, "nobody"); err != nil || ok {
		t.Fatalf("Lookup(nobody) = %v, %v; want a miss", ok, err)
	}
}

// TestReleaseRaceAgainstMoto: an erasure observes its claim, the claim is
// released and claimed again by another region's sign-up before the
// erasure's release runs (a retried release): the new owner's claim stays.
func TestReleaseRaceAgainstMoto(t *testing.T) {
	srv := mototest.Require(t)
	ctx := context.Background()
	table := fmt.Sprintf("registry-release-%d", time.Now().UnixNano())
	reg := dynamodb.NewFromConfig(srv.Config("eu-west-1"))
	mototest.CreateTable(t, reg, "RegistryTable", table)
	erasing := New(table, "eu-central-1", "eu-west-1", reg, reg, "v1")
	erasing.Deleter = reg
	other := New(table, "eu-west-1", "eu-west-1", reg, reg, "v1")
	other.Now = func() time.Time { return time.Now().Add(time.Second) } // a later claim

	if _, _, err := erasing.Claim(ctx, "key-1", "eu-central-1"); err != nil {
		t.Fatal(err)
	}
	observed, ok, err := erasing.LookupRegistry(ctx, "key-1")
	if err != nil || !ok {
		t.Fatalf("LookupRegistry = %v, %v", ok, err)
	}
	// The observed claim is released once (a first attempt whose answer was
	// lost), then the address signs up in eu-west-1.
	if released, err := erasing.Release(ctx, "key-1", "eu-central-1", observed.CreatedAt); err != nil || !released {
		t.Fatalf("first Release = %v, %v", released, err)
	}
	if _, created, err := other.Claim(ctx, "key-1", "eu-west-1"); err != nil || !created {
		t.Fatalf("new sign-up's Claim = %v, %v", created, err)
	}
	// The retried release must not delete the new owner's claim, nor a
	// claim of the same region made after the observed one.
	if released, err := erasing.Release(ctx, "key-1", "eu-central-1", observed.CreatedAt); err != nil || released {
		t.Fatalf("retried Release = %v, %v; want false, nil", released, err)
	}
	if released, err := erasing.Release(ctx, "key-1", "eu-west-1", observed.CreatedAt); err != nil || released {
		t.Fatalf("Release with the new region but the old createdAt = %v, %v; want false, nil", released, err)
	}
	rec, ok, err := erasing.LookupRegistry(ctx, "key-1")
	if err != nil || !ok || rec.HomeRegion != "eu-west-1" {
		t.Fatalf("claim after the race = %+v, %v, %v; want eu-west-1's", rec, ok, err)
	}
	if released, err := erasing.Release(ctx, "nobody", "eu-central-1", observed.CreatedAt); err != nil || released {
		t.Fatalf("Release of no claim = %v, %v; want false, nil", released, err)
	}
}
