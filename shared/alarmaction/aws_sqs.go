//go:build !alarmaction_failover && !alarmaction_promote

// This file is left out of a bootstrap built for one ACTION that does not
// use SQS (build tags alarmaction_failover, alarmaction_promote,
// alarmaction_scale; see actions.go): linking the SDK's sqs package
// initialises its schemas and endpoint tables at every cold start.

package alarmaction

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/shared/awsclient/sqsops"
)

// SQSAPI is the part of *sqs.Client the queue adapter uses.
type SQSAPI interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// SQSQueue adapts SQS to Queue.
type SQSQueue struct{ c SQSAPI }

// NewSQSQueue returns the adapter over c.
func NewSQSQueue(c SQSAPI) *SQSQueue { return &SQSQueue{c} }

// Visible returns ApproximateNumberOfMessages (visible messages).
func (q *SQSQueue) Visible(ctx context.Context, queueURL string) (int, error) {
	out, err := q.c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		return 0, fmt.Errorf("sqs GetQueueAttributes: %w", err)
	}
	v, ok := out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)]
	if !ok {
		return 0, errors.New("sqs GetQueueAttributes: no ApproximateNumberOfMessages in response")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("sqs GetQueueAttributes: ApproximateNumberOfMessages %q is not a count", v)
	}
	return n, nil
}

// newSQS is NewFromAWS's SQS client.
func newSQS(awscfg aws.Config) SQSAPI { return sqsops.NewAttributesGetter(sqs.NewFromConfig(awscfg)) }
