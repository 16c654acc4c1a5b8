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
