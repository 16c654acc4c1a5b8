package faulttest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/internal/faultproxy"
	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/mototest"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/processor"
	"github.com/homeregion/homeregion/shared/processor/processortest"
)

// TestProcessorLosesAndDuplicatesNothing drains queued orders through
// throttled receives, failing and lost deletes, reset status updates and
// latency: every order ends stored exactly once, COMPLETED, with nothing left
// in the queue or its dead-letter queue.
func TestProcessorLosesAndDuplicatesNothing(t *testing.T) {
	srv := mototest.Require(t)
	f := processortest.New(t, srv.Config(region), 20)
	const n = 30
	ids := processortest.IDs(unique("ft"), n)
	f.Records(t, ids)
	if err := f.Send(context.Background(), ids); err != nil {
		t.Fatal(err)
	}
	p := proxy(t, srv)
	// Limited faults first (the first live match applies), latency last.
	p.Add("ReceiveMessage", faultproxy.Fault{Kind: faultproxy.Throttle, ErrorCode: "RequestThrottled", Times: 4})
	p.Add("DeleteMessage", faultproxy.Fault{Kind: faultproxy.Status, Code: 500, Times: 6})
	p.Add("DeleteMessage", faultproxy.Fault{Kind: faultproxy.LostResponse, Times: 3})
	p.Add("DeleteMessage", faultproxy.Fault{Kind: faultproxy.Reset, Times: 3})
	p.Add("DynamoDB_20120810.UpdateItem", faultproxy.Fault{Kind: faultproxy.Reset, Times: 4})
	p.Add("DynamoDB_20120810.UpdateItem", faultproxy.Fault{Kind: faultproxy.Throttle, ErrorCode: "ProvisionedThroughputExceededException", Times: 4})
	p.Add("ChangeMessageVisibility", faultproxy.Fault{Kind: faultproxy.Status, Code: 503, Times: 2})
	p.Add("", faultproxy.Fault{Kind: faultproxy.Latency, Delay: 20 * time.Millisecond})
	cfg := via(t, p, awsconfig.Options{MaxAttempts: 2})

	store, err := orderstore.Open(context.Background(), filepath.Join(t.TempDir(), "site.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	proc, err := processor.New(processor.Config{QueueURL: f.QueueURL, OrdersTable: f.Table, Site: "fault-site",
		Concurrency: 8, WaitTime: time.Second, VisibilityTimeout: 2 * time.Second, DrainTimeout: 5 * time.Second},
		processor.Deps{SQS: sqs.NewFromConfig(cfg), DynamoDB: dynamodb.NewFromConfig(cfg), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	settled := func() bool {
		c, _ := store.Count(context.Background())
		visible, inFlight := f.Counts(t, f.QueueURL)
		return c >= n && visible+inFlight == 0
	}
	processortest.WaitFor(t, 90*time.Second, "every order stored and the queue empty", settled)
	cancel()
	if err := <-done; err != nil {
		t.Logf("Run: %v", err)
	}
	if c, _ := store.Count(context.Background()); c != n {
		t.Fatalf("site stores %d orders, want exactly %d", c, n)
	}
	for _, id := range ids {
		if ok, _ := store.Has(context.Background(), id); !ok {
			t.Fatalf("order %s lost", id)
		}
	}
	if visible, inFlight := f.Counts(t, f.DLQURL); visible+inFlight != 0 {
		t.Fatalf("%d orders in the dead-letter queue", visible+inFlight)
	}
	for id, st := range f.Statuses(t, ids) {
		if st != orders.StatusCompleted {
			t.Errorf("order %s status %q, want COMPLETED", id, st)
		}
	}
	// Redelivered messages (a failed delete or status update) are stored
	// once: the site's keyed insert reports them as duplicates.
	st := proc.Stats()
	seen, forwarded := p.Count("")
	t.Logf("stats %+v; %d AWS requests, %d reached moto", st, seen, forwarded)
}
