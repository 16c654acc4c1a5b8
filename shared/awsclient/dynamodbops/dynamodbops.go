// Package dynamodbops holds the DynamoDB operations homeregion calls, bound to a
// *dynamodb.Client as method values (see package awsclient for why).
package dynamodbops

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Ops holds the bound operations; it satisfies any adapter interface made of
// a subset of them. Build it with New.
type Ops struct {
	GetItemFn            func(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItemFn            func(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItemFn         func(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItemFn         func(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	TransactWriteItemsFn func(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// New binds the operations to c.
func New(c *dynamodb.Client) *Ops {
	return &Ops{
		GetItemFn:            c.GetItem,
		PutItemFn:            c.PutItem,
		UpdateItemFn:         c.UpdateItem,
		DeleteItemFn:         c.DeleteItem,
		TransactWriteItemsFn: c.TransactWriteItems,
	}
}

// GetItem calls dynamodb.Client.GetItem.
func (o *Ops) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return o.GetItemFn(ctx, in, optFns...)
}

// PutItem calls dynamodb.Client.PutItem.
func (o *Ops) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return o.PutItemFn(ctx, in, optFns...)
}

// UpdateItem calls dynamodb.Client.UpdateItem.
func (o *Ops) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return o.UpdateItemFn(ctx, in, optFns...)
}

// DeleteItem calls dynamodb.Client.DeleteItem.
func (o *Ops) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return o.DeleteItemFn(ctx, in, optFns...)
}

// TransactWriteItems calls dynamodb.Client.TransactWriteItems.
func (o *Ops) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return o.TransactWriteItemsFn(ctx, in, optFns...)
}
