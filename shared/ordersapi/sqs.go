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

// SQSQueue is the Queue on the orders queue (ORDERS_QUEUE_URL), a standard
// (not FIFO) queue: deduplication is the idempotency record's job.
type SQSQueue struct {
	Client SQSAPI
	URL    string
}

// NewSQSQueue returns the Queue at url, using client.
func NewSQSQueue(client SQSAPI, url string) *SQSQueue { return &SQSQueue{Client: client, URL: url} }

// Send implements Queue: the body, the order id as the
// orders.MessageAttrOrderID string attribute and, when set, the trace header
// as the AWSTraceHeader system attribute.
func (q *SQSQueue) Send(ctx context.Context, m Message) error {
	in := &sqs.SendMessageInput{
		QueueUrl:    aws.String(q.URL),
		MessageBody: aws.String(m.Body),
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
