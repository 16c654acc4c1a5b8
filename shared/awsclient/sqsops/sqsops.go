// Package sqsops holds the SQS operations homeregion calls, bound to a
// *sqs.Client as method values (see package awsclient for why).
package sqsops

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Ops holds the bound operations; it satisfies any adapter interface made of
// a subset of them. Build it with New.
type Ops struct {
	SendMessageFn                  func(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	ReceiveMessageFn               func(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageFn                func(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibilityFn      func(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	ChangeMessageVisibilityBatchFn func(context.Context, *sqs.ChangeMessageVisibilityBatchInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	GetQueueAttributesFn           func(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// New binds the operations to c.
func New(c *sqs.Client) *Ops {
	return &Ops{
		SendMessageFn:                  c.SendMessage,
		ReceiveMessageFn:               c.ReceiveMessage,
		DeleteMessageFn:                c.DeleteMessage,
		ChangeMessageVisibilityFn:      c.ChangeMessageVisibility,
		ChangeMessageVisibilityBatchFn: c.ChangeMessageVisibilityBatch,
		GetQueueAttributesFn:           c.GetQueueAttributes,
	}
}

// SendMessage calls sqs.Client.SendMessage.
func (o *Ops) SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return o.SendMessageFn(ctx, in, optFns...)
}

// ReceiveMessage calls sqs.Client.ReceiveMessage.
func (o *Ops) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	return o.ReceiveMessageFn(ctx, in, optFns...)
}

// DeleteMessage calls sqs.Client.DeleteMessage.
func (o *Ops) DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	return o.DeleteMessageFn(ctx, in, optFns...)
}

// ChangeMessageVisibility calls sqs.Client.ChangeMessageVisibility.
func (o *Ops) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	return o.ChangeMessageVisibilityFn(ctx, in, optFns...)
}

// ChangeMessageVisibilityBatch calls sqs.Client.ChangeMessageVisibilityBatch.
func (o *Ops) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	return o.ChangeMessageVisibilityBatchFn(ctx, in, optFns...)
}

// GetQueueAttributes calls sqs.Client.GetQueueAttributes.
func (o *Ops) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return o.GetQueueAttributesFn(ctx, in, optFns...)
}
