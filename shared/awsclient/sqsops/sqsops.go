// Package sqsops holds the SQS operations homeregion's functions call, bound
// to a *sqs.Client as method values (see package awsclient for why). Each
// type binds the operations of one consumer, so a binary links only the
// operations it calls: the orders API sends (Sender), the scale action reads
// the queue's attributes (AttributesGetter).
package sqsops

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Sender holds SendMessage bound to a client; it satisfies the orders API's
// queue interface (ordersapi.SQSAPI). Build it with NewSender.
type Sender struct {
	SendMessageFn func(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// NewSender binds SendMessage to c.
func NewSender(c *sqs.Client) *Sender {
	return &Sender{SendMessageFn: c.SendMessage}
}

// SendMessage calls sqs.Client.SendMessage.
func (s *Sender) SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return s.SendMessageFn(ctx, in, optFns...)
}

// AttributesGetter holds GetQueueAttributes bound to a client; it satisfies
// the alarm actions' queue interface (alarmaction.SQSAPI). Build it with
// NewAttributesGetter.
type AttributesGetter struct {
	GetQueueAttributesFn func(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// NewAttributesGetter binds GetQueueAttributes to c.
func NewAttributesGetter(c *sqs.Client) *AttributesGetter {
	return &AttributesGetter{GetQueueAttributesFn: c.GetQueueAttributes}
}

// GetQueueAttributes calls sqs.Client.GetQueueAttributes.
func (g *AttributesGetter) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return g.GetQueueAttributesFn(ctx, in, optFns...)
}
