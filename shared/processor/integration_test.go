package processor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/ordertable"
	"github.com/homeregion/homeregion/shared/processor"
	"github.com/homeregion/homeregion/shared/sealed"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// feedBacklog bounds the queue length while orders are fed in: moto's
// ReceiveMessage slows down linearly with the queue's length.
const feedBacklog = 60

// run starts a processor on f and store; stop cancels it and returns Run's error.
func run(t *testing.T, cfg aws.Config, f *processortest.Fixture, store orderstore.Store, mod func(*processor.Config)) (p *processor.Processor, stop func() error) {
	t.Helper()
	return runWith(t, cfg, f, store, f.Keys, slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), mod)
}

// runWith is run with the site keys keys and logger log.
func runWith(t *testing.T, cfg aws.Config, f *processortest.Fixture, store orderstore.Store, keys processor.Opener, log *slog.Logger, mod func(*processor.Config)) (p *processor.Processor, stop func() error) {
	t.Helper()
	c := processor.Config{
		QueueURL: f.QueueURL, OrdersTable: f.Table, Site: "test-site",
		Concurrency: 20, WaitTime: time.Second, VisibilityTimeout: 30 * time.Second,
	}
	if mod != nil {
		mod(&c)
	}
	p, err := processor.New(c, processor.Deps{
		SQS: sqs.NewFromConfig(cfg), DynamoDB: dynamodb.NewFromConfig(cfg), CloudWatch: motoCloudWatch(cfg),
		Store: store, Keys: keys, Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { stop() })
	return p, stop
}

// site is a site database: the store a processor writes through, and its
// orders table read directly for the checks.
type site struct {
	orderstore.Store
	table *orderstoretest.Table
}

func openStore(t *testing.T, dsn string) site {
	t.Helper()
	s, err := orderstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return site{Store: s, table: orderstoretest.OpenTable(t, dsn)}
}

func count(t *testing.T, s site) int64 {
	t.Helper()
	n, err := s.table.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkDone asserts, while the processor still runs: queue empty (redelivered
// duplicates drained too), exactly len(ids) rows, every status COMPLETED.
func checkDone(t *testing.T, f *processortest.Fixture, s site, ids []string) {
	t.Helper()
	processortest.WaitFor(t, time.Minute, "empty queue", func() bool {
		v, nv := f.Counts(t, f.QueueURL)
		return v == 0 && nv == 0
	})
	if n := count(t, s); n != int64(len(ids)) {
		t.Errorf("rows = %d, want %d", n, len(ids))
	}
	processortest.WaitFor(t, time.Minute, "every row DONE", func() bool {
		n, err := s.table.CountState(context.Background(), "DONE")
		return err == nil && n == int64(len(ids))
	})
	st := f.Statuses(t, ids)
	bad := 0
	for _, id := range ids {
		if st[id] != orders.StatusCompleted {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d orders not COMPLETED", bad, len(ids))
	}
}

// TestThousandOrders: 1000 orders in -> 1000 rows, all COMPLETED, queue empty,
// on both databases.
func TestThousandOrders(t *testing.T) {
	srv := mototest.Require(t)
	cfg := srv.Config("eu-west-1")
	for _, kind := range orderstoretest.Kinds {
		t.Run(kind, func(t *testing.T) {
			f := processortest.New(t, cfg, 3)
			ids := processortest.IDs("k", 1000)
			store := openStore(t, orderstoretest.DSN(t, kind))
			start := time.Now()
			p, stop := run(t, cfg, f, store, nil)
			fed := f.Feed(t, ids, feedBacklog, func() int64 { return p.Stats().Processed })
			processortest.WaitFor(t, 5*time.Minute, "1000 rows", func() bool { return count(t, store) == 1000 })
			fed()
			processortest.WaitFor(t, 30*time.Second, "1000 deletes", func() bool { return p.Stats().Processed >= 1000 })
			t.Logf("%s: 1000 orders in %s", kind, time.Since(start).Round(time.Millisecond))
			checkDone(t, f, store, ids)
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if s := p.Stats(); s.Inserted != 1000 || s.Poison != 0 {
				t.Errorf("stats = %+v, want 1000 inserted, no poison", s)
			}
		})
	}
}

// TestHardCancelAndRestart: a processor abandoned mid-batch (its work
// context cancelled at once, no drain) and a new one on the same database
// -> still exactly 1000 rows, all COMPLETED, queue empty.
//
// PostgreSQL only here: cmd/processor's TestKillMidBatchAndRestart kills the
// real binary (SIGKILL) on SQLite.
func TestHardCancelAndRestart(t *testing.T) {
	srv := mototest.Require(t)
	cfg := srv.Config("eu-west-1")
	for _, kind := range []string{"postgres"} {
		t.Run(kind, func(t *testing.T) {
			f := processortest.New(t, cfg, 100)
			ids := processortest.IDs("h", 1000)
			dsn := orderstoretest.DSN(t, kind)
			store := openStore(t, dsn)
			fed := f.Feed(t, ids, feedBacklog, func() int64 { n, _ := store.table.Count(context.Background()); return n })
			// First processor: drain timeout of 1 ns = in-flight work is
			// abandoned the moment it is cancelled (a crash, as far as SQS
			// and the database can tell). Short visibility so abandoned
			// messages return quickly.
			p1, stop1 := run(t, cfg, f, store, func(c *processor.Config) {
				c.DrainTimeout = time.Nanosecond
				c.VisibilityTimeout = 2 * time.Second
			})
			processortest.WaitFor(t, 3*time.Minute, "some rows", func() bool { return count(t, store) >= 300 })
			if err := stop1(); !errors.Is(err, processor.ErrDrainTimeout) && err != nil {
				t.Fatalf("first Run: %v", err)
			}
			// Run returned without joining the abandoned workers (that is
			// what a drain timeout means): an insert already sent to the
			// database can still commit. Count once the table is quiet.
			first := count(t, store)
			for quiet := 0; quiet < 3; {
				time.Sleep(500 * time.Millisecond)
				if n := count(t, store); n != first {
					first, quiet = n, 0
				} else {
					quiet++
				}
			}
			s1 := p1.Stats()
			t.Logf("first run: %d rows, stats %+v", first, s1)
			if first >= 1000 {
				t.Fatalf("first run finished everything (%d rows): not a mid-batch kill", first)
			}
			store2 := openStore(t, dsn)
			p2, stop2 := run(t, cfg, f, store2, func(c *processor.Config) { c.VisibilityTimeout = 2 * time.Second })
			processortest.WaitFor(t, 5*time.Minute, "1000 rows", func() bool { return count(t, store2) == 1000 })
			fed()
			checkDone(t, f, store2, ids)
			if err := stop2(); err != nil {
				t.Fatalf("second Run: %v", err)
			}
			t.Logf("second run stats %+v", p2.Stats())
			// Each order handled once: by the first run, or by the second
			// (a message or the recovery pass of the rows the kill left).
			if got := s1.Inserted + p2.Stats().Inserted; got != 1000 {
				t.Errorf("%d handled by the first run + %d by the second, want 1000", s1.Inserted, p2.Stats().Inserted)
			}
		})
	}
}

// TestPoisonMessage: malformed and unknown-version messages end in the DLQ
// after maxReceiveCount receives, untouched; the good orders around them
// are all processed.
func TestPoisonMessage(t *testing.T) {
	srv := mototest.Require(t)
	cfg := srv.Config("eu-west-1")
	f := processortest.New(t, cfg, 2)
	ids := processortest.IDs("p", 50)
	f.Seed(t, ids[:25])
	poison := []string{
		`{"version":3,"orderId":"p-v3","region":"eu-west-1","owner":"o","createdAt":"2026-01-01T00:00:00Z","order":{}}`,
		`{not json`,
		`{"version":1,"orderId":"","order":{}}`,
	}
	f.SendRaw(t, poison[0], "p-v3")
	f.SendRaw(t, poison[1], "")
	f.SendRaw(t, poison[2], "")
	f.Seed(t, ids[25:])
	store := openStore(t, orderstoretest.SQLiteDSN(t))
	p, stop := run(t, cfg, f, store, func(c *processor.Config) { c.VisibilityTimeout = time.Second })
	processortest.WaitFor(t, time.Minute, "3 messages in the DLQ", func() bool {
		v, nv := f.Counts(t, f.DLQURL)
		return v+nv == 3
	})
	processortest.WaitFor(t, time.Minute, "50 rows", func() bool { return count(t, store) == 50 })
	checkDone(t, f, store, ids)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	s := p.Stats()
	if s.Poison < 6 { // 3 messages x maxReceiveCount 2
		t.Errorf("poison receives = %d, want >= 6", s.Poison)
	}
	// The DLQ holds the bodies unchanged.
	out, err := f.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(f.DLQURL), MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range out.Messages {
		got = append(got, aws.ToString(m.Body))
	}
	for _, want := range poison {
		found := false
		for _, g := range got {
			found = found || g == want
		}
		if !found {
			t.Errorf("DLQ lacks poison body %q (has %q)", want, got)
		}
	}
}

// TestUnstorableOrderEndsFailed: an order with a NUL in its note, as an API
// older than orders.CheckText could have queued it (issue 11 item 1), among
// good orders. PostgreSQL refuses it (SQLSTATE 22P05, a permanent error): its
// status becomes FAILED, not ACCEPTED for ever, and the message reaches the
// DLQ (OrdersDeadLetterAlarm); SQLite stores it and it is COMPLETED. The
// good orders are stored once and COMPLETED on both.
func TestUnstorableOrderEndsFailed(t *testing.T) {
	srv := mototest.Require(t)
	cfg := srv.Config("eu-west-1")
	for _, kind := range orderstoretest.Kinds {
		t.Run(kind, func(t *testing.T) {
			f := processortest.New(t, cfg, 2)
			ids := processortest.IDs("g", 20)
			f.Seed(t, ids)
			bad := "nul-1"
			env := processortest.Envelope(bad)
			env.Order.Note = "ring\x00twice"
			m, err := sealed.SealEnvelope(f.PublicKey, env)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			f.Records(t, []string{bad})
			f.SendRaw(t, string(b), bad)
			store := openStore(t, orderstoretest.DSN(t, kind))
			p, stop := run(t, cfg, f, store, func(c *processor.Config) { c.VisibilityTimeout = time.Second })
			want := orders.StatusCompleted
			if kind == "postgres" {
				want = orders.StatusFailed
				processortest.WaitFor(t, time.Minute, "the unstorable order in the DLQ", func() bool {
					v, nv := f.Counts(t, f.DLQURL)
					return v+nv == 1
				})
			}
			processortest.WaitFor(t, time.Minute, "the NUL order "+string(want), func() bool {
				return f.Statuses(t, []string{bad})[bad] == want
			})
			if kind == "postgres" {
				checkDone(t, f, store, ids)
			} else {
				checkDone(t, f, store, append(ids, bad))
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if s := p.Stats(); kind == "postgres" && (s.FailedOrders < 1 || s.Failed != 0) {
				t.Errorf("stats = %+v, want the order FAILED and no transient failures", s)
			}
		})
	}
}

// TestClaimAndSettleOnMoto checks the claim protocol's conditional writes
// against moto with the real client: the first claim wins, a repeated one
// with the same token wins again, another token loses and is told who holds
// it; only the holder settles; poison fails only an unclaimed order.
func TestClaimAndSettleOnMoto(t *testing.T) {
	srv := mototest.Require(t)
	cfg := srv.Config("eu-west-1")
	f := processortest.New(t, cfg, 2)
	f.Seed(t, []string{"a-1", "a-2"})
	ctx := context.Background()
	now := time.Now()
	claim := func(id, token, store string) ordertable.ClaimResult {
		t.Helper()
		c, err := ordertable.Claim(ctx, f.DynamoDB, f.Table, id, token, store, now)
		if err != nil {
			t.Fatalf("Claim(%s, %s): %v", id, token, err)
		}
		return c
	}
	if c := claim("a-1", "t-a", "db-a"); !c.Won || c.Status != orders.StatusAccepted || c.Store != "db-a" {
		t.Fatalf("first claim = %+v", c)
	}
	if c := claim("a-1", "t-b", "db-b"); c.Won || c.Store != "db-a" || c.Status != orders.StatusAccepted {
		t.Fatalf("second database's claim = %+v, want lost to db-a", c)
	}
	if c := claim("a-1", "t-a", "db-a"); !c.Won {
		t.Fatalf("repeated claim = %+v, want won", c)
	}
	if err := ordertable.Settle(ctx, f.DynamoDB, f.Table, "a-1", orders.StatusCompleted, "t-b", now); !errors.Is(err, ordertable.ErrClaimLost) {
		t.Fatalf("settle by the loser = %v, want ErrClaimLost", err)
	}
	if err := ordertable.Settle(ctx, f.DynamoDB, f.Table, "a-1", orders.StatusFailed, "", now); !errors.Is(err, ordertable.ErrClaimLost) {
		t.Fatalf("poison settle of a claimed order = %v, want ErrClaimLost", err)
	}
	for range 2 {
		if err := ordertable.Settle(ctx, f.DynamoDB, f.Table, "a-1", orders.StatusCompleted, "t-a", now); err != nil {
			t.Fatalf("settle by the holder: %v", err)
		}
	}
	if c := claim("a-1", "t-a", "db-a"); !c.Won || c.Status != orders.StatusCompleted {
		t.Fatalf("claim after settling = %+v, want won and COMPLETED", c)
	}
	if c := claim("a-1", "t-c", "db-c"); c.Won || c.Status != orders.StatusCompleted {
		t.Fatalf("late claim = %+v, want lost, COMPLETED", c)
	}
	if err := ordertable.Settle(ctx, f.DynamoDB, f.Table, "a-2", orders.StatusFailed, "", now); err != nil {
		t.Fatalf("poison settle of an unclaimed order: %v", err)
	}
	if c := claim("a-2", "t-a", "db-a"); c.Won || c.Status != orders.StatusFailed || c.Store != "" {
		t.Fatalf("claim of a FAILED order = %+v", c)
	}
	if _, err := ordertable.Claim(ctx, f.DynamoDB, f.Table, "missing", "t-a", "db-a", now); !errors.Is(err, orders.ErrUnknownOrder) {
		t.Fatalf("claim of an unknown order = %v, want ErrUnknownOrder", err)
	}
	st := f.Statuses(t, []string{"a-1", "a-2"})
	if st["a-1"] != orders.StatusCompleted || st["a-2"] != orders.StatusFailed {
		t.Fatalf("statuses = %v", st)
	}
}

// BenchmarkThroughput measures orders/s through moto: the processor (SQLite
// site database, 20 workers, 2 pollers) next to a bare SDK loop that only
// receives and deletes (2 pollers, batches of 10, DeleteMessageBatch), on
// the same queue shape in the same run. Each iteration drains benchOrders
// orders that were enqueued beforehand (not timed).
//
//	go test -run '^$' -bench Throughput -benchtime 2x ./shared/processor/
func BenchmarkThroughput(b *testing.B) {
	srv := mototest.Require(b)
	cfg := srv.Config("eu-west-1")
	const benchOrders = 200
	b.Run("bare-receive-delete", func(b *testing.B) {
		b.ReportAllocs()
		var busy time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			f := processortest.New(b, cfg, 5)
			f.Seed(b, processortest.IDs(fmt.Sprintf("bb%d", i), benchOrders))
			b.StartTimer()
			start := time.Now()
			var done atomic64
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					for done.load() < benchOrders {
						out, err := f.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
							QueueUrl: aws.String(f.QueueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
						})
						if err != nil {
							b.Error(err)
							return
						}
						if len(out.Messages) == 0 {
							continue
						}
						entries := make([]sqstypes.DeleteMessageBatchRequestEntry, len(out.Messages))
						for j, m := range out.Messages {
							entries[j] = sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(j)), ReceiptHandle: m.ReceiptHandle}
						}
						if _, err := f.SQS.DeleteMessageBatch(context.Background(), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(f.QueueURL), Entries: entries}); err != nil {
							b.Error(err)
							return
						}
						done.add(int64(len(out.Messages)))
					}
				})
			}
			wg.Wait()
			busy += time.Since(start)
		}
		b.ReportMetric(float64(b.N*benchOrders)/busy.Seconds(), "orders/s")
	})
	b.Run("processor-sqlite", func(b *testing.B) {
		b.ReportAllocs()
		var busy time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			f := processortest.New(b, cfg, 5)
			f.Seed(b, processortest.IDs(fmt.Sprintf("bp%d", i), benchOrders))
			store, err := orderstore.Open(context.Background(), orderstoretest.SQLiteDSN(b))
			if err != nil {
				b.Fatal(err)
			}
			p, err := processor.New(processor.Config{
				QueueURL: f.QueueURL, OrdersTable: f.Table, Site: "bench", Concurrency: 20, WaitTime: time.Second,
			}, processor.Deps{SQS: f.SQS, DynamoDB: f.DynamoDB, Store: store, Keys: f.Keys})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			runErr := make(chan error, 1)
			b.StartTimer()
			start := time.Now()
			go func() { runErr <- p.Run(ctx) }()
			for p.Stats().Processed < benchOrders {
				time.Sleep(2 * time.Millisecond)
			}
			busy += time.Since(start)
			b.StopTimer()
			cancel()
			if err := <-runErr; err != nil {
				b.Fatal(err)
			}
			store.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(b.N*benchOrders)/busy.Seconds(), "orders/s")
	})
}

// atomic64 is a tiny counter for the benchmark's goroutines.
type atomic64 struct {
	mu sync.Mutex
	n  int64
}

func (a *atomic64) add(d int64) { a.mu.Lock(); a.n += d; a.mu.Unlock() }
func (a *atomic64) load() int64 { a.mu.Lock(); defer a.mu.Unlock(); return a.n }
