package mototest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/internal/provision/cfn"
)

// QueueCreator is the part of the SQS client CreateQueue uses.
type QueueCreator interface {
	CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, optFns ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
}

// CreateQueue creates the queue name (with the ".fifo" suffix a FIFO queue
// needs) as template.yaml declares the resource logicalID (OrdersQueue,
// OrdersDeadLetterQueue): its literal properties, read the way the local
// provisioner reads them, so tests meet the queue type (FIFO, deduplication
// scope) the product deploys. Properties the template computes (a
// parameter's visibility timeout, the redrive policy's target) are left
// out; set, replaces or adds properties (a RedrivePolicy with its
// deadLetterTargetArn and maxReceiveCount; ReceiveMessageWaitTimeSeconds 0,
// for a test that receives from an empty queue without waiting, since the
// SDK cannot send a zero wait). It returns the queue's URL; any failure
// fails the test.
func CreateQueue(t testing.TB, q QueueCreator, logicalID, name string, set map[string]any) string {
	t.Helper()
	tpl, err := productTemplate()
	if err != nil {
		t.Fatalf("mototest: create queue %s: %v", name, err)
	}
	r := tpl.Resource(logicalID)
	if r == nil || r.Type != "AWS::SQS::Queue" {
		t.Fatalf("mototest: create queue %s: %s is not an SQS queue of %s", name, logicalID, tpl.Path)
	}
	props := map[string]any{}
	for k, v := range r.Properties {
		switch v.(type) {
		case map[string]any, []any: // an intrinsic, or a computed structure
			continue
		}
		props[k] = v
	}
	for k, v := range set {
		props[k] = v
	}
	in, err := cfn.QueueInput(name, props)
	if err != nil {
		t.Fatalf("mototest: create queue %s as %s: %v", name, logicalID, err)
	}
	out, err := q.CreateQueue(context.Background(), in)
	if err != nil {
		t.Fatalf("mototest: create queue %s as %s: %v", name, logicalID, err)
	}
	return aws.ToString(out.QueueUrl)
}
