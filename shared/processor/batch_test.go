package processor

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/orderstore"
)

// txStore is a site database that counts its transactions by method.
type txStore struct {
	orderstore.Store
	mu sync.Mutex
	n  map[string]int
}

func (s *txStore) count(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[op]++
}

func (s *txStore) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.n {
		out[k] = v
	}
	return out
}

func (s *txStore) Prepare(ctx context.Context, env orders.Envelope) (orderstore.Order, error) {
	s.count("Prepare")
	return s.Store.Prepare(ctx, env)
}

func (s *txStore) PrepareBatch(ctx context.Context, envs []orders.Envelope) ([]orderstore.Prepared, error) {
	s.count("PrepareBatch")
	return s.Store.PrepareBatch(ctx, envs)
}

func (s *txStore) Handle(ctx context.Context, id string, fn func(*sql.Tx) error) (bool, error) {
	s.count("Handle")
	return s.Store.Handle(ctx, id, fn)
}

func (s *txStore) HandleBatch(ctx context.Context, ids []string, fn func(*sql.Tx, string) error) ([]orderstore.Handled, error) {
	s.count("HandleBatch")
	return s.Store.HandleBatch(ctx, ids, fn)
}

func (s *txStore) Finish(ctx context.Context, id string) error {
	s.count("Finish")
	return s.Store.Finish(ctx, id)
}

func (s *txStore) FinishBatch(ctx context.Context, ids []string) error {
	s.count("FinishBatch")
	return s.Store.FinishBatch(ctx, ids)
}

// sqliteStore opens a new SQLite site database for t.
func sqliteStore(t *testing.T) orderstore.Store {
	t.Helper()
	s, err := orderstore.Open(context.Background(), filepath.Join(t.TempDir(), "site.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// ledger is a Handler that writes one row per order into its own table in
// the handling transaction, and refuses order `refuse` for good.
func ledger(t *testing.T, st orderstore.Store, refuse string) Handler {
	t.Helper()
	if err := st.Update(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`CREATE TABLE ledger (order_id TEXT PRIMARY KEY)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return HandlerFunc(func(ctx context.Context, tx *sql.Tx, o orders.Envelope) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger (order_id) VALUES (?)`, o.OrderID); err != nil {
			return err
		}
		if o.OrderID == refuse {
			return Permanent(errors.New("the ledger refuses this order"))
		}
		return nil
	})
}

// ledgerRows lists the ledger's order ids.
func ledgerRows(t *testing.T, st orderstore.Store) []string {
	t.Helper()
	var ids []string
	if err := st.Update(context.Background(), func(tx *sql.Tx) error {
		rows, err := tx.Query(`SELECT order_id FROM ledger ORDER BY order_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	}); err != nil {
		t.Fatal(err)
	}
	return ids
}

// One receive of a poison message, a duplicate, an order the Handler
// refuses and good orders: the good ones (and the duplicate, once) are
// stored, handled, settled and deleted together in one transaction each
// (PrepareBatch, HandleBatch, FinishBatch) and one DeleteMessageBatch; the
// poison and the refused order are left for the dead-letter queue, FAILED;
// neither rolls back or holds up the others.
func TestBatchPoisonAndDuplicate(t *testing.T) {
	st := &txStore{Store: sqliteStore(t)}
	q := &fakeSQS{queue: []sqstypes.Message{
		msg("a", body(t, "o-a"), "o-a"),
		msg("poison", `{"version":1,"orderId":"o-poison"`, "o-poison"),
		msg("b", body(t, "o-b"), "o-b"),
		msg("a2", body(t, "o-a"), "o-a"), // a second copy of o-a
		msg("refused", body(t, "o-refused"), "o-refused"),
		msg("c", body(t, "o-c"), "o-c"),
	}}
	var mu sync.Mutex
	settled := map[string]string{} // order id -> status settled
	ddb := fakeDDB{update: func(in *dynamodb.UpdateItemInput) error {
		if !claimWrite(in) {
			mu.Lock()
			settled[strings.TrimPrefix(keyOf(in), "ORDER#")] = valueOf(in, ":to")
			mu.Unlock()
		}
		return nil
	}}
	p := newP(t, q, ddb, fakeStore{}, nil, func(c *Config) { c.Concurrency = 10; c.Pollers = 1 })
	p.deps.Store = st
	p.deps.Handler = ledger(t, st, "o-refused")
	p.deps.Now = longAgo
	if err := runUntil(t, p, func() bool { s := p.Stats(); return s.Processed+s.Poison >= 6 }); err != nil {
		t.Fatal(err)
	}
	deleted, _, _ := q.snapshot()
	slices.Sort(deleted)
	if want := []string{"r-a", "r-a2", "r-b", "r-c"}; !slices.Equal(deleted, want) {
		t.Errorf("deleted %v, want %v (the poison and the refused order left for the DLQ)", deleted, want)
	}
	if got, want := ledgerRows(t, st), []string{"o-a", "o-b", "o-c"}; !slices.Equal(got, want) {
		t.Errorf("ledger %v, want %v: the Handler once per good order, the refused order's write rolled back", got, want)
	}
	mu.Lock()
	for id, want := range map[string]string{"o-a": "COMPLETED", "o-b": "COMPLETED", "o-c": "COMPLETED", "o-poison": "FAILED", "o-refused": "FAILED"} {
		if settled[id] != want {
			t.Errorf("order %s settled %q, want %s", id, settled[id], want)
		}
	}
	mu.Unlock()
	pending, err := st.Pending(context.Background(), time.Now().Add(time.Hour), orderstore.Order{}, 100)
	if err != nil || len(pending) != 0 {
		t.Errorf("pending rows %d (%v), want none", len(pending), err)
	}
	s := p.Stats()
	if s.Received != 6 || s.Processed != 4 || s.Inserted != 3 || s.Duplicates != 1 || s.Poison != 2 || s.Failed != 0 || s.FailedOrders != 2 {
		t.Errorf("stats = %+v", s)
	}
	if c := st.counts(); c["PrepareBatch"] != 1 || c["HandleBatch"] != 1 || c["FinishBatch"] != 1 || c["Prepare"]+c["Handle"]+c["Finish"] != 0 {
		t.Errorf("site database calls %v, want one PrepareBatch, HandleBatch and FinishBatch for the whole receive", c)
	}
}

// longAgo is a clock for which no row is old enough for the recovery pass,
// so that only the messages settle the orders.
func longAgo() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// keyOf and valueOf read an UpdateItem's key and a string value.
func keyOf(in *dynamodb.UpdateItemInput) string { return stringAttr(in.Key["pk"]) }

func valueOf(in *dynamodb.UpdateItemInput, name string) string {
	return stringAttr(in.ExpressionAttributeValues[name])
}

func stringAttr(v ddbtypes.AttributeValue) string {
	if s, ok := v.(*ddbtypes.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// partialSQS is fakeSQS whose first DeleteMessageBatch fails the entry of
// receipt `fail` (the rest are deleted) and redelivers its message, as SQS
// does once the visibility timeout ends.
type partialSQS struct {
	*fakeSQS
	fail   string
	redo   sqstypes.Message
	failed atomic.Bool
}

func (f *partialSQS) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, o ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	var keep []sqstypes.DeleteMessageBatchRequestEntry
	var failed []sqstypes.BatchResultErrorEntry
	for _, e := range in.Entries {
		if aws.ToString(e.ReceiptHandle) == f.fail && f.failed.CompareAndSwap(false, true) {
			failed = append(failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), SenderFault: false})
			continue
		}
		keep = append(keep, e)
	}
	out := &sqs.DeleteMessageBatchOutput{}
	if len(keep) > 0 {
		var err error
		if out, err = f.fakeSQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: in.QueueUrl, Entries: keep}, o...); err != nil {
			return nil, err
		}
	}
	out.Failed = failed
	if len(failed) > 0 {
		f.mu.Lock()
		f.queue = append(f.queue, f.redo)
		f.mu.Unlock()
	}
	return out, nil
}

// A DeleteMessageBatch entry that fails leaves its message to be
// redelivered; the redelivery is a no-op (nothing stored or handled again)
// but for its delete, and the batch's other messages are deleted at once.
func TestDeleteBatchPartialFailure(t *testing.T) {
	st := sqliteStore(t)
	q := &partialSQS{fakeSQS: &fakeSQS{queue: []sqstypes.Message{
		msg("a", body(t, "o-a"), "o-a"), msg("b", body(t, "o-b"), "o-b"), msg("c", body(t, "o-c"), "o-c"),
	}}, fail: "r-b", redo: msg("b", body(t, "o-b"), "o-b")}
	var claims atomic.Int32
	ddb := fakeDDB{update: func(in *dynamodb.UpdateItemInput) error {
		if claimWrite(in) {
			claims.Add(1)
		}
		return nil
	}}
	p, err := New(Config{QueueURL: "q", OrdersTable: "t", Site: "s", Concurrency: 10, Pollers: 1, WaitTime: time.Second},
		Deps{SQS: q, DynamoDB: ddb, Store: st, Keys: mustKeys(t), Handler: ledger(t, st, ""), Now: longAgo})
	if err != nil {
		t.Fatal(err)
	}
	if err := runUntil(t, p, func() bool { return p.Stats().Processed >= 3 }); err != nil {
		t.Fatal(err)
	}
	deleted, _, _ := q.snapshot()
	slices.Sort(deleted)
	if want := []string{"r-a", "r-b", "r-c"}; !slices.Equal(deleted, want) || !q.failed.Load() {
		t.Errorf("deleted %v (entry failed once: %v), want %v: the failed entry deleted on redelivery", deleted, q.failed.Load(), want)
	}
	if got, want := ledgerRows(t, st), []string{"o-a", "o-b", "o-c"}; !slices.Equal(got, want) {
		t.Errorf("ledger %v, want %v: the Handler once per order", got, want)
	}
	if n := claims.Load(); n != 3 {
		t.Errorf("%d claims, want 3: the redelivery of a DONE row claims nothing", n)
	}
	if s := p.Stats(); s.Received != 4 || s.Processed != 3 || s.Inserted != 3 || s.Duplicates != 1 || s.Failed != 1 {
		t.Errorf("stats = %+v, want 4 received, 3 processed and inserted, 1 duplicate (the redelivery), 1 failed (the entry)", s)
	}
}
