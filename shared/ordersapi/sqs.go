package ordersapi

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/shared/orders"
)

// SQSAPI is the part of the SQS client SQSQueue uses.
type SQSAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// SQSQueue is the Queue on the orders queue (ORDERS_QUEUE_URL), a FIFO
// queue: every message of an order carries the order id as its
// deduplication id, so SQS accepts a re-send of it (a replay, the SDK's
// retry of a send whose answer was lost) but delivers only the first within
// its 5-minute deduplication interval. The order id is its message group
// too: one group per order, so no order waits behind another (FIFO delivers
// a group's messages one at a time) and high-throughput mode spreads them
// over the queue's partitions.
type SQSQueue struct {
	Client SQSAPI
	URL    string
}

// NewSQSQueue returns the Queue at url, using client.
func NewSQSQueue(client SQSAPI, url string) *SQSQueue { return &SQSQueue{Client: client, URL: url} }

// Send implements Queue: the body, the order id as the message group,
// deduplication id and orders.MessageAttrOrderID string attribute and, when
// set, the trace header as the AWSTraceHeader system attribute.
func (q *SQSQueue) Send(ctx context.Context, m Message) error {
	in := &sqs.SendMessageInput{
		QueueUrl:               aws.String(q.URL),
		MessageBody:            aws.String(m.Body),
		MessageGroupId:         aws.String(m.OrderID),
		MessageDeduplicationId: aws.String(m.OrderID),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			orders.MessageAttrOrderID: {DataType: aws.String("String"), StringValue: aws.String(m.OrderID)},
		},
	}
	if m.TraceHeader != "" {
		in.MessageSystemAttributes = map[string]sqstypes.MessageSystemAttributeValue{
			string(sqstypes.MessageSystemAttributeNameForSendsAWSTraceHeader): {DataType: aws.String("String"), StringValue: aws.String(m.TraceHeader)},
		}
	}
	if _, err := q.Client.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("%w: send message: %w", ErrUnavailable, err)
	}
	return nil
}
