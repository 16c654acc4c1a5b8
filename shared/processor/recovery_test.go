package processor

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/orderstore"
)

// Two copies of one message at two workers of one database: the second
// finds the row DONE after Handle reported ran=false, and delivers nothing.
func TestNoDeliveryWhenAnotherWorkerFinished(t *testing.T) {
	var delivered atomic.Int32
	st := fakeStore{
		handle: func(context.Context, string) (bool, error) { return false, nil },
		prepare: func(_ context.Context, env orders.Envelope) (orderstore.Order, error) {
			return orderstore.Order{Envelope: env, State: orderstore.StateDone, Token: "claim-" + env.OrderID}, nil
		},
	}
	p := newP(t, &fakeSQS{}, fakeDDB{}, st, nil, nil)
	p.deps.Deliverer = deliverFunc(func(context.Context, orders.Envelope) error { delivered.Add(1); return nil })
	o := orderstore.Order{Envelope: orders.Envelope{OrderID: "o1"}, State: orderstore.StatePrepared, Token: "claim-o1"}
	if got := p.settle(context.Background(), p.log, o); got != outcomeCompleted || delivered.Load() != 0 {
		t.Fatalf("settle = %v, %d deliveries; want completed and none", got, delivered.Load())
	}
}

// pagedStore serves rows to the recovery pass the way the site database
// does: in order, after the cursor; a failed row stays.
type pagedStore struct {
	fakeStore
	rows []orderstore.Order
}

func (s pagedStore) Pending(_ context.Context, _ time.Time, after orderstore.Order, limit int) ([]orderstore.Order, error) {
	i := 0
	if after.Envelope.OrderID != "" {
		for i < len(s.rows) && s.rows[i].Envelope.OrderID <= after.Envelope.OrderID {
			i++
		}
	}
	return s.rows[i:min(i+limit, len(s.rows))], nil
}

// A recovery pass whose first 100 rows keep failing still tries the rows
// behind them.
func TestRecoveryPassesFailingRows(t *testing.T) {
	st := pagedStore{}
	for i := range 250 {
		id := string(rune('A'+i/26/26)) + string(rune('a'+i/26%26)) + string(rune('a'+i%26))
		st.rows = append(st.rows, orderstore.Order{Envelope: orders.Envelope{OrderID: id}, State: orderstore.StatePrepared, Token: "claim-" + id})
	}
	tried := map[string]bool{}
	ddb := fakeDDB{update: func(in *dynamodb.UpdateItemInput) error {
		if claimWrite(in) {
			tried[in.Key["pk"].(*ddbtypes.AttributeValueMemberS).Value] = true
			return context.DeadlineExceeded // transient: every row stays pending
		}
		return nil
	}}
	p := newP(t, &fakeSQS{}, ddb, fakeStore{}, nil, nil)
	p.deps.Store = st
	p.recoverPass(context.Background(), context.Background(), time.Now())
	if len(tried) != 250 {
		t.Fatalf("one recovery pass tried %d of 250 pending rows", len(tried))
	}
}

// A recovery pass stuck in a Deliverer that waits for its context is
// bounded by the drain timeout.
func TestDrainBoundsTheRecoveryPass(t *testing.T) {
	st := pagedStore{rows: []orderstore.Order{{Envelope: orders.Envelope{OrderID: "o1"}, State: orderstore.StateHandled, Token: "claim-o1"}}}
	inDeliver := make(chan struct{}, 1)
	p := newP(t, &fakeSQS{}, fakeDDB{}, fakeStore{}, nil, func(c *Config) { c.Concurrency = 1; c.DrainTimeout = 200 * time.Millisecond })
	p.deps.Store = st
	p.deps.Handler = HandlerFunc(func(context.Context, *sql.Tx, orders.Envelope) error { return nil })
	p.deps.Deliverer = deliverFunc(func(ctx context.Context, _ orders.Envelope) error {
		inDeliver <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	<-inDeliver
	cancel()
	select {
	case err := <-done:
		if err != ErrDrainTimeout {
			t.Fatalf("Run = %v, want ErrDrainTimeout", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Run still running 3 s after cancel with DrainTimeout 200 ms")
	}
}

// A restored copy of a SQLite database holds a PREPARED row whose order a
// newer copy COMPLETED: the won claim finds COMPLETED, and the row leaves
// the pending set (DONE) instead of being claimed again every pass.
func TestRestoredCopyLeavesNothingPending(t *testing.T) {
	ctx := context.Background()
	st, err := orderstore.Open(ctx, filepath.Join(t.TempDir(), "orders.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	env := orders.Envelope{Version: 1, OrderID: "o1", Region: "eu-west-1", Owner: "sub", CreatedAt: time.Unix(1, 0).UTC(),
		Order: orders.Order{Items: []orders.Item{{SKU: "A", Quantity: 1}}}}
	if _, err := st.Prepare(ctx, env); err != nil {
		t.Fatal(err)
	}
	p := newP(t, &fakeSQS{}, fakeDDB{claimStatus: orders.StatusCompleted}, fakeStore{}, nil, nil)
	p.deps.Store = st
	p.recoverPass(ctx, ctx, time.Now().Add(time.Second))
	rows, err := st.Pending(ctx, time.Now().Add(time.Second), orderstore.Order{}, 100)
	if err != nil || len(rows) != 0 {
		t.Fatalf("after a pass: %d rows pending, %v", len(rows), err)
	}
}
