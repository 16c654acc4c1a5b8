package mototest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/homeregion/homeregion/internal/provision/cfn"
	"github.com/homeregion/homeregion/internal/template"
)

// TableCreator is the part of the DynamoDB client CreateTable uses.
type TableCreator interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// CreateTable creates the table name with the layout template.yaml declares
// for the resource logicalID (RegistryTable, OrdersTable, ControlTable ...):
// its keys, indexes and stream, read the way the local provisioner reads
// them, and enables its time to live when the template does. Tests create the
// product's tables only through it, so the template stays the one home of
// their layouts. moto does not replicate global tables: a test that needs
// RegistryTable in several regions creates it in each. Any failure (an
// unknown logical id, a resource that is not a table, an existing table)
// fails the test.
func CreateTable(t testing.TB, db TableCreator, logicalID, name string) {
	t.Helper()
	tpl, err := productTemplate()
	if err != nil {
		t.Fatalf("mototest: create table %s: %v", name, err)
	}
	r := tpl.Resource(logicalID)
	if r == nil {
		t.Fatalf("mototest: create table %s: no resource %s in %s", name, logicalID, tpl.Path)
	}
	if r.Type != "AWS::DynamoDB::Table" && r.Type != "AWS::DynamoDB::GlobalTable" {
		t.Fatalf("mototest: create table %s: %s is %s, not a DynamoDB table", name, logicalID, r.Type)
	}
	in, ttl, err := cfn.TableInput(name, r.Properties)
	if err != nil {
		t.Fatalf("mototest: create table %s as %s: %v", name, logicalID, err)
	}
	ctx := context.Background()
	if _, err := db.CreateTable(ctx, in); err != nil {
		t.Fatalf("mototest: create table %s as %s: %v", name, logicalID, err)
	}
	if ttl != nil {
		if _, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(name), TimeToLiveSpecification: ttl}); err != nil {
			t.Fatalf("mototest: time to live on table %s: %v", name, err)
		}
	}
}

// productTemplate reads the module's template.yaml once.
var productTemplate = sync.OnceValues(func() (*template.Template, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return template.Load(filepath.Join(dir, "template.yaml"))
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, fmt.Errorf("no go.mod above the working directory: cannot find template.yaml")
		}
		dir = parent
	}
})
