//go:build alarmaction_failover || alarmaction_promote

// A bootstrap built for one ACTION that does not use SQS (see actions.go)
// has these stand-ins instead of the SQS adapter, so that it links no SQS
// client: nothing builds them (NewFromAWS makes no SQS client, and New
// refuses an action whose clients are missing).

package alarmaction

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// SQSAPI has no implementation in this bootstrap.
type SQSAPI interface{ notLinked() }

// SQSQueue is the stand-in for the SQS adapter.
type SQSQueue struct{}

// NewSQSQueue returns the stand-in.
func NewSQSQueue(SQSAPI) *SQSQueue { return &SQSQueue{} }

// Visible fails: SQS is not linked into this bootstrap.
func (*SQSQueue) Visible(context.Context, string) (int, error) {
	return 0, errNotBuilt("SQS")
}

// newSQS makes no client: SQS is not linked into this bootstrap.
func newSQS(aws.Config) SQSAPI { return nil }
