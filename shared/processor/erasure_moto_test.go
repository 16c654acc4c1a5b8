package processor_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/internal/logtest"
	"github.com/homeregion/homeregion/internal/motoserver"
	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/processor"
)

// opCounts counts a processor's AWS calls by operation.
type opCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *opCounts) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[op]++
}

func (c *opCounts) get(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

// countingSQS is the real SQS client, counted.
type countingSQS struct {
	processor.SQSAPI
	n *opCounts
}

func (c countingSQS) DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, o ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	c.n.add("DeleteMessage")
	return c.SQSAPI.DeleteMessage(ctx, in, o...)
}

func (c countingSQS) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, o ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	c.n.add("DeleteMessageBatch")
	return c.SQSAPI.DeleteMessageBatch(ctx, in, o...)
}

func (c countingSQS) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, o ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	c.n.add("ChangeMessageVisibilityBatch")
	return c.SQSAPI.ChangeMessageVisibilityBatch(ctx, in, o...)
}

// countingDDB is the real DynamoDB client, counted.
type countingDDB struct {
	processor.DynamoDBAPI
	n *opCounts
}

func (c countingDDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.n.add("UpdateItem")
	return c.DynamoDBAPI.UpdateItem(ctx, in, o...)
}

// runCounted starts a processor on f and store whose SQS and DynamoDB calls
// are counted in n; stop cancels it and returns Run's error.
func runCounted(t *testing.T, cfg aws.Config, f *processortest.Fixture, store orderstore.Store, n *opCounts, log *slog.Logger) (*processor.Processor, func() error) {
	t.Helper()
	p, err := processor.New(processor.Config{
		QueueURL: f.QueueURL, OrdersTable: f.Table, Site: "test-site",
		Concurrency: 10, WaitTime: time.Second, VisibilityTimeout: 5 * time.Second,
	}, processor.Deps{
		SQS: countingSQS{sqs.NewFromConfig(cfg), n}, DynamoDB: countingDDB{dynamodb.NewFromConfig(cfg), n},
		Store: store, Keys: f.Keys, Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { stop() })
	return p, stop
}

// TestErasureTwoSiteDatabases is the site half of an erasure against moto
// with the real SDK: two site databases A (SQLite) and B (PostgreSQL)
// consume one queue; owners X and Y have orders stored at both. X's erasure
// (its record and the tombstones of its orders, as DELETE /me and the
// worker write them; one more order of X still queued) is sent as erasure
// messages until both databases confirmed: then no row of X remains at A or
// B, both keep X's tombstone, Y is untouched, and a redelivered order
// message of X is deleted without being stored or claimed.
func TestErasureTwoSiteDatabases(t *testing.T) {
	srv := mototest.Require(t)
	cfg := motoserver.Config(srv.AtomicURL(t), "eu-west-1") // the claims of A and B race
	ctx := context.Background()
	f := processortest.New(t, cfg, 5)
	const x, y = "sub-x-erased", "sub-y-kept"
	f.OwnerOf = func(id string) string {
		if strings.HasPrefix(id, "x-") {
			return x
		}
		return y
	}
	a := openStore(t, orderstoretest.SQLiteDSN(t))
	b := openStore(t, orderstoretest.PostgresDSN(t))
	var logs logtest.Buffer
	log := logs.Logger()
	var na, nb opCounts

	// X's and Y's first orders at A alone, the next at B alone.
	first := append(processortest.IDs("x-a", 10), processortest.IDs("y-a", 10)...)
	second := append(processortest.IDs("x-b", 10), processortest.IDs("y-b", 10)...)
	pa, stopA := runCounted(t, cfg, f, a, &na, log)
	f.Seed(t, first)
	processortest.WaitFor(t, time.Minute, "A's 20 orders", func() bool { return pa.Stats().Processed == 20 })
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	pb, stopB := runCounted(t, cfg, f, b, &nb, log)
	f.Seed(t, second)
	processortest.WaitFor(t, time.Minute, "B's 20 orders", func() bool { return pb.Stats().Processed == 20 })
	pa, stopA = runCounted(t, cfg, f, a, &na, log)
	processortest.WaitFor(t, 30*time.Second, "both databases registered", func() bool {
		sites := f.Sites(t)
		return slices.Contains(sites, a.ID()) && slices.Contains(sites, b.ID())
	})
	for _, s := range []site{a, b} {
		if n, _ := s.table.CountOwner(ctx, x); n != 10 {
			t.Fatalf("%s holds %d orders of X before the erasure, want 10", s.Kind(), n)
		}
	}

	// The erasure: the record, X's orders tombstoned (one more of X still
	// queued), then erasure messages until both databases confirmed.
	late := "x-late"
	f.Records(t, []string{late})
	all := append(append(slices.Clone(first), second...), late)
	f.RequestErasure(t, "er-1", x, all)
	if err := f.Send(ctx, []string{late}); err != nil {
		t.Fatal(err)
	}
	sent := 0
	deadline := time.Now().Add(2 * time.Minute)
	for {
		c := f.Confirmed(t, x)
		if slices.Contains(c, a.ID()) && slices.Contains(c, b.ID()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d erasure messages, confirmed by %v; want %s and %s", sent, c, a.ID(), b.ID())
		}
		if err := f.SendErasure(ctx, "er-1", x); err != nil {
			t.Fatal(err)
		}
		sent++
		processortest.WaitFor(t, 30*time.Second, "the erasure message taken", func() bool {
			return pa.Stats().Erasures+pb.Stats().Erasures == int64(sent)
		})
	}
	processortest.WaitFor(t, time.Minute, "empty queue", func() bool {
		v, nv := f.Counts(t, f.QueueURL)
		return v == 0 && nv == 0
	})
	t.Logf("%d erasure messages until both confirmed (A took %d, B %d)", sent, pa.Stats().Erasures, pb.Stats().Erasures)

	if c := f.Confirmed(t, x); len(c) != 2 {
		t.Errorf("confirmed by %v, want exactly A and B", c)
	}
	for _, s := range []site{a, b} {
		if n, _ := s.table.CountOwner(ctx, x); n != 0 {
			t.Errorf("%s: %d rows of X after the erasure", s.Kind(), n)
		}
		if id, _ := s.table.Tombstone(ctx, x); id != "er-1" {
			t.Errorf("%s: X's tombstone %q, want er-1", s.Kind(), id)
		}
		if id, _ := s.table.Tombstone(ctx, y); id != "" {
			t.Errorf("%s: Y has a tombstone", s.Kind())
		}
		if n, _ := s.table.CountOwner(ctx, y); n != 10 {
			t.Errorf("%s: %d rows of Y, want its 10 untouched", s.Kind(), n)
		}
	}
	if pa.Stats().Erased+pb.Stats().Erased != 1 {
		t.Errorf("erased orders = %d + %d, want the late order of X", pa.Stats().Erased, pb.Stats().Erased)
	}
	st := f.Statuses(t, all)
	for _, id := range all {
		want := "COMPLETED"
		if f.OwnerOf(id) == x {
			want = "ERASED"
		}
		if string(st[id]) != want {
			t.Errorf("order %s status %q, want %s", id, st[id], want)
		}
	}

	// An order message of X redelivered (from the DLQ, say): deleted at
	// once, never stored, never claimed.
	claimsBefore := na.get("UpdateItem") + nb.get("UpdateItem")
	if err := f.Send(ctx, []string{"x-a-00003"}); err != nil {
		t.Fatal(err)
	}
	processortest.WaitFor(t, 30*time.Second, "the redelivered order deleted", func() bool {
		return pa.Stats().Erased+pb.Stats().Erased == 2
	})
	processortest.WaitFor(t, 30*time.Second, "empty queue", func() bool {
		v, nv := f.Counts(t, f.QueueURL)
		return v == 0 && nv == 0
	})
	for _, s := range []site{a, b} {
		if has, _ := s.table.Has(ctx, "x-a-00003"); has {
			t.Errorf("%s stored a redelivered order of an erased owner", s.Kind())
		}
	}
	if n := na.get("UpdateItem") + nb.get("UpdateItem") - claimsBefore; n != 0 {
		t.Errorf("%d orders-table writes for the redelivered order, want none (no claim)", n)
	}
	if v, nv := f.Counts(t, f.DLQURL); v+nv != 0 {
		t.Errorf("%d messages in the dead-letter queue, want none", v+nv)
	}
	// The AWS calls of one erasure message at a site (a repeated one:
	// idempotent), besides its share of a ReceiveMessage.
	calls := func() (int, int, int) {
		return na.get("UpdateItem") + nb.get("UpdateItem"), na.get("DeleteMessage") + nb.get("DeleteMessage"),
			na.get("ChangeMessageVisibilityBatch") + nb.get("ChangeMessageVisibilityBatch")
	}
	u0, d0, v0 := calls()
	before := pa.Stats().Erasures + pb.Stats().Erasures
	const repeats = 5
	for range repeats {
		if err := f.SendErasure(ctx, "er-1", x); err != nil {
			t.Fatal(err)
		}
	}
	processortest.WaitFor(t, 30*time.Second, "the repeated erasure messages", func() bool {
		return pa.Stats().Erasures+pb.Stats().Erasures == before+repeats
	})
	u1, d1, v1 := calls()
	t.Logf("AWS calls per erasure message at a site: %s", fmt.Sprintf("%.1f UpdateItem (ConfirmErasure) + %.1f DeleteMessage + %.1f ChangeMessageVisibilityBatch, plus its share of a ReceiveMessage",
		float64(u1-u0)/repeats, float64(d1-d0)/repeats, float64(v1-v0)/repeats))
	if u1-u0 != repeats || d1-d0 != repeats {
		t.Errorf("%d UpdateItem and %d DeleteMessage for %d erasure messages, want one each per message", u1-u0, d1-d0, repeats)
	}
	if c := f.Confirmed(t, x); len(c) != 2 {
		t.Errorf("confirmed by %v after repeated messages, want exactly A and B", c)
	}
	for _, stop := range []func() error{stopA, stopB} {
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	out := logs.String()
	if strings.Contains(out, x) || strings.Contains(out, y) {
		t.Errorf("a log line carries an owner")
	}
	processortest.CheckNoPII(t, out)
	if !strings.Contains(out, `"erasureId":"er-1"`) {
		t.Errorf("no log line names the erasure id")
	}
}
