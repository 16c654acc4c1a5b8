package mototest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// fakeDB records the calls CreateTable makes.
type fakeDB struct {
	created *dynamodb.CreateTableInput
	ttl     *dynamodb.UpdateTimeToLiveInput
	err     error
}

func (f *fakeDB) CreateTable(_ context.Context, in *dynamodb.CreateTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	f.created = in
	return &dynamodb.CreateTableOutput{}, f.err
}

func (f *fakeDB) UpdateTimeToLive(_ context.Context, in *dynamodb.UpdateTimeToLiveInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error) {
	f.ttl = in
	return &dynamodb.UpdateTimeToLiveOutput{}, nil
}

// fatalTB records the first Fatalf and stops the goroutine, as testing does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func createTable(db TableCreator, logicalID string) (fatal string) {
	tb := &fatalTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		CreateTable(tb, db, logicalID, "tbl")
	}()
	<-done
	return tb.msg
}

// CreateTable builds the table from template.yaml's resource, enables the
// TTL the template enables, and fails the test on anything else.
func TestCreateTable(t *testing.T) {
	for _, tt := range []struct {
		id        string
		createErr error
		hash      string
		ttl       string
		fatal     string
	}{
		{id: "OrdersTable", hash: "pk", ttl: "expiresAt"},
		{id: "ControlTable", hash: "pk", ttl: "expiresAt"},
		{id: "RegistryTable", hash: "idKey"},
		{id: "NoSuchTable", fatal: "no resource NoSuchTable"},
		{id: "OrdersQueue", fatal: "OrdersQueue is AWS::SQS::Queue, not a DynamoDB table"},
		{id: "OrdersTable", createErr: errors.New("boom"), fatal: "boom"},
	} {
		t.Run(tt.id, func(t *testing.T) {
			db := &fakeDB{err: tt.createErr}
			fatal := createTable(db, tt.id)
			if tt.fatal != "" {
				if !strings.Contains(fatal, tt.fatal) {
					t.Fatalf("fatal = %q, want it to contain %q", fatal, tt.fatal)
				}
				return
			}
			if fatal != "" {
				t.Fatalf("fatal: %s", fatal)
			}
			if aws.ToString(db.created.TableName) != "tbl" || len(db.created.KeySchema) != 1 || aws.ToString(db.created.KeySchema[0].AttributeName) != tt.hash {
				t.Errorf("created %+v, want table tbl keyed by %s", db.created, tt.hash)
			}
			var ttl string
			if db.ttl != nil {
				ttl = aws.ToString(db.ttl.TimeToLiveSpecification.AttributeName)
			}
			if ttl != tt.ttl {
				t.Errorf("ttl = %q, want %q", ttl, tt.ttl)
			}
		})
	}
}
