// Package dynamodbops holds the DynamoDB operations homeregion's functions
// call, bound to a *dynamodb.Client as method values (see package awsclient
// for why). Each type binds the operations of one kind of consumer, so a
// binary links only the operations it calls: the residency registry reads and
// claims with GetItem and PutItem (ItemReadWriter); the lease store and the
// orders table also update and write transactions (Ops).
package dynamodbops

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// ItemReadWriter holds GetItem and PutItem bound to a client; it satisfies
// the registry's interface (registry.DynamoDBAPI). Build it with
// NewItemReadWriter.
type ItemReadWriter struct {
	GetItemFn func(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItemFn func(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// NewItemReadWriter binds GetItem and PutItem to c.
func NewItemReadWriter(c *dynamodb.Client) *ItemReadWriter {
	return &ItemReadWriter{GetItemFn: c.GetItem, PutItemFn: c.PutItem}
}

// GetItem calls dynamodb.Client.GetItem.
func (o *ItemReadWriter) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return o.GetItemFn(ctx, in, optFns...)
}

// PutItem calls dynamodb.Client.PutItem.
func (o *ItemReadWriter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return o.PutItemFn(ctx, in, optFns...)
}

// Ops holds the operations of the lease store and the orders table (GetItem,
// PutItem, UpdateItem, TransactWriteItems) bound to a client; it satisfies
// lease.DB and the adapter interfaces built on it. Build it with New.
type Ops struct {
	ItemReadWriter
	UpdateItemFn         func(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItemsFn func(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// New binds the lease store's operations to c.
func New(c *dynamodb.Client) *Ops {
	return &Ops{
		ItemReadWriter:       *NewItemReadWriter(c),
		UpdateItemFn:         c.UpdateItem,
		TransactWriteItemsFn: c.TransactWriteItems,
	}
}

// UpdateItem calls dynamodb.Client.UpdateItem.
func (o *Ops) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return o.UpdateItemFn(ctx, in, optFns...)
}

// TransactWriteItems calls dynamodb.Client.TransactWriteItems.
func (o *Ops) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return o.TransactWriteItemsFn(ctx, in, optFns...)
}
