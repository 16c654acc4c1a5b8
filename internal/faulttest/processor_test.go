package faulttest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/internal/faultproxy"
	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/processor"
)

// TestProcessorLosesAndDuplicatesNothing drains queued orders through
// throttled receives, failing and lost deletes, reset status updates and
// latency: every order ends stored exactly once, COMPLETED, with nothing left
// in the queue or its dead-letter queue.
func TestProcessorLosesAndDuplicatesNothing(t *testing.T) {
	srv := mototest.Require(t)
	store, table := openSite(t)
	for _, p := range drainThroughFaults(t, srv, store, table, true) {
		t.Error(p)
	}
}

// lossyStore is a broken site database: it reports every seventh order as
// stored without storing it.
type lossyStore struct {
	orderstore.Store
	n atomic.Int64
}

func (s *lossyStore) Prepare(ctx context.Context, env orders.Envelope) (orderstore.Order, error) {
	if s.n.Add(1)%7 == 0 {
		return orderstore.Order{Envelope: env, State: orderstore.StateDone, Token: "claim-lost"}, nil
	}
	return s.Store.Prepare(ctx, env)
}

// PrepareBatch is Prepare for each order (the processor stores a receive's
// orders with PrepareBatch).
func (s *lossyStore) PrepareBatch(ctx context.Context, envs []orders.Envelope) ([]orderstore.Prepared, error) {
	out := make([]orderstore.Prepared, len(envs))
	for i, env := range envs {
		out[i].Order, out[i].Err = s.Prepare(ctx, env)
	}
	return out, nil
}

// TestProcessorCheckCatchesLostOrders proves the checks above can fail: a
// processor over a site database that silently drops orders is caught.
func TestProcessorCheckCatchesLostOrders(t *testing.T) {
	srv := mototest.Require(t)
	store, table := openSite(t)
	if len(drainThroughFaults(t, srv, &lossyStore{Store: store}, table, false)) == 0 {
		t.Fatal("orders dropped by the site database went unnoticed")
	}
}

// openSite opens a new site database, and its orders table for the checks.
func openSite(t *testing.T) (orderstore.Store, *orderstoretest.Table) {
	t.Helper()
	dsn := orderstoretest.SQLiteDSN(t)
	s, err := orderstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, orderstoretest.OpenTable(t, dsn)
}

// drainThroughFaults queues n orders, runs a processor on store through the
// faults until the queue is empty, and returns what was lost, duplicated or
// left behind, as table (the store's database) shows it.
func drainThroughFaults(t *testing.T, srv *mototest.Server, store processor.Store, table *orderstoretest.Table, faults bool) []string {
	t.Helper()
	f := processortest.New(t, srv.Config(region), 20)
	const n = 30
	ids := processortest.IDs(unique("ft"), n)
	f.Records(t, ids)
	if err := f.Send(context.Background(), ids); err != nil {
		t.Fatal(err)
	}
	p := proxy(t, srv)
	if faults {
		// Limited faults first (the first live match applies), latency last.
		p.Add("ReceiveMessage", faultproxy.Fault{Kind: faultproxy.Throttle, ErrorCode: "RequestThrottled", Times: 4})
		p.Add("DeleteMessageBatch", faultproxy.Fault{Kind: faultproxy.Status, Code: 500, Times: 6})
		p.Add("DeleteMessageBatch", faultproxy.Fault{Kind: faultproxy.LostResponse, Times: 3})
		p.Add("DeleteMessageBatch", faultproxy.Fault{Kind: faultproxy.Reset, Times: 3})
		p.Add("DynamoDB_20120810.UpdateItem", faultproxy.Fault{Kind: faultproxy.Reset, Times: 4})
		p.Add("DynamoDB_20120810.UpdateItem", faultproxy.Fault{Kind: faultproxy.Throttle, ErrorCode: "ProvisionedThroughputExceededException", Times: 4})
		p.Add("ChangeMessageVisibilityBatch", faultproxy.Fault{Kind: faultproxy.Status, Code: 503, Times: 2})
		p.Add("", faultproxy.Fault{Kind: faultproxy.Latency, Delay: 20 * time.Millisecond})
	}
	cfg := via(t, p, awsconfig.Options{MaxAttempts: 2})
	proc, err := processor.New(processor.Config{QueueURL: f.QueueURL, OrdersTable: f.Table, Site: "fault-site",
		Concurrency: 8, WaitTime: time.Second, VisibilityTimeout: 2 * time.Second, DrainTimeout: 5 * time.Second},
		processor.Deps{SQS: sqs.NewFromConfig(cfg), DynamoDB: dynamodb.NewFromConfig(cfg), Store: store, Keys: f.Keys})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	processortest.WaitFor(t, 90*time.Second, "the queue empty", func() bool {
		visible, inFlight := f.Counts(t, f.QueueURL)
		return visible+inFlight == 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Logf("Run: %v", err)
	}
	var problems []string
	if c, _ := table.Count(context.Background()); c != n {
		problems = append(problems, fmt.Sprintf("site stores %d orders, want exactly %d", c, n))
	}
	for _, id := range ids {
		if ok, _ := table.Has(context.Background(), id); !ok {
			problems = append(problems, "order "+id+" lost")
		}
	}
	if visible, inFlight := f.Counts(t, f.DLQURL); visible+inFlight != 0 {
		problems = append(problems, fmt.Sprintf("%d orders in the dead-letter queue", visible+inFlight))
	}
	for id, st := range f.Statuses(t, ids) {
		if st != orders.StatusCompleted {
			problems = append(problems, fmt.Sprintf("order %s status %q, want COMPLETED", id, st))
		}
	}
	// Redelivered messages (a failed delete or status update) are stored
	// once: the site's keyed insert reports them as duplicates.
	seen, forwarded := p.Count("")
	t.Logf("stats %+v; %d AWS requests, %d reached moto", proc.Stats(), seen, forwarded)
	return problems
}
