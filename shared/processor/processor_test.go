package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/ordertable"
)

// fakeSQS serves the messages in queue once each, then empty receives.
type fakeSQS struct {
	mu       sync.Mutex
	queue    []sqstypes.Message
	receive  func(ctx context.Context) // called before each receive, when set
	deleted  []string                  // receipt handles
	extended []string
	handed   []string
}

func (f *fakeSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	if f.receive != nil {
		f.receive(ctx)
	}
	f.mu.Lock()
	n := min(int(in.MaxNumberOfMessages), len(f.queue))
	out := f.queue[:n]
	f.queue = f.queue[n:]
	f.mu.Unlock()
	if n == 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return &sqs.ReceiveMessageOutput{Messages: out}, nil
}

func (f *fakeSQS) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, aws.ToString(in.ReceiptHandle))
	return &sqs.DeleteMessageOutput{}, nil
}

func (f *fakeSQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.extended = append(f.extended, fmt.Sprintf("%s=%d", aws.ToString(in.ReceiptHandle), in.VisibilityTimeout))
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (f *fakeSQS) ChangeMessageVisibilityBatch(_ context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &sqs.ChangeMessageVisibilityBatchOutput{}
	for _, e := range in.Entries {
		f.handed = append(f.handed, fmt.Sprintf("%s=%d", aws.ToString(e.ReceiptHandle), e.VisibilityTimeout))
		out.Successful = append(out.Successful, sqstypes.ChangeMessageVisibilityBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

func (f *fakeSQS) snapshot() (deleted, extended, handed []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.deleted...), append([]string(nil), f.extended...), append([]string(nil), f.handed...)
}

type fakeDDB struct {
	update func(in *dynamodb.UpdateItemInput) error
}

func (f fakeDDB) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if f.update != nil {
		if err := f.update(in); err != nil {
			return nil, err
		}
	}
	return &dynamodb.UpdateItemOutput{}, nil
}

type fakeStore struct {
	save func(ctx context.Context, env orders.Envelope) (bool, error)
}

func (f fakeStore) Save(ctx context.Context, env orders.Envelope) (bool, error) {
	if f.save != nil {
		return f.save(ctx, env)
	}
	return true, nil
}

type fakeCW struct {
	mu   sync.Mutex
	puts []*cloudwatch.PutMetricDataInput
}

func (f *fakeCW) PutMetricData(_ context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts = append(f.puts, in)
	return &cloudwatch.PutMetricDataOutput{}, nil
}

func body(t testing.TB, id string) string {
	b, err := json.Marshal(orders.Envelope{
		Version: 1, OrderID: id, Region: "eu-west-1", Owner: "sub", CreatedAt: time.Unix(1, 0).UTC(),
		Order: orders.Order{Items: []orders.Item{{SKU: "A", Quantity: 1}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func msg(id, body, attr string) sqstypes.Message {
	m := sqstypes.Message{MessageId: aws.String("m-" + id), ReceiptHandle: aws.String("r-" + id), Body: aws.String(body),
		Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
	if attr != "" {
		m.MessageAttributes = map[string]sqstypes.MessageAttributeValue{orders.MessageAttrOrderID: {DataType: aws.String("String"), StringValue: aws.String(attr)}}
	}
	return m
}

// runUntil runs p until cond holds (or 5 s pass), then cancels and returns Run's error.
func runUntil(t *testing.T, p *Processor, cond func() bool) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	return <-done
}

func newP(t *testing.T, q *fakeSQS, ddb fakeDDB, st fakeStore, cw MetricsAPI, mod func(*Config)) *Processor {
	t.Helper()
	cfg := Config{QueueURL: "q", OrdersTable: "t", Site: "s", Concurrency: 4, WaitTime: time.Second}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg, Deps{SQS: q, DynamoDB: ddb, Store: st, CloudWatch: cw})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecode(t *testing.T) {
	good := body(t, "o1")
	for _, tc := range []struct {
		name, body, attr, want string
	}{
		{"valid", good, "o1", ""},
		{"valid without attribute", good, "", ""},
		{"not json", "{nope", "", "malformed JSON body"},
		{"no version", `{"orderId":"o1"}`, "", "envelope has no version"},
		{"unknown version", strings.Replace(good, `"version":1`, `"version":2`, 1), "", "unknown envelope version 2"},
		{"wrong field type", `{"version":1,"orderId":5}`, "", "malformed version 1 envelope"},
		{"no order id", strings.Replace(good, `"orderId":"o1"`, `"orderId":""`, 1), "", "envelope has no orderId"},
		{"attribute mismatch", good, "o2", "orderId attribute differs"},
		{"no owner", strings.Replace(good, `"owner":"sub"`, `"owner":""`, 1), "", "envelope has no owner"},
		{"no items", strings.Replace(good, `[{"sku":"A","quantity":1}]`, `[]`, 1), "", "order has no items"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode(&message{body: tc.body, orderAttr: tc.attr})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("decode error = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "sub") {
				t.Fatalf("error leaks body content: %v", err)
			}
		})
	}
}

func TestHandle(t *testing.T) {
	errBoom := errors.New("boom")
	for _, tc := range []struct {
		name        string
		body        string
		save        func(context.Context, orders.Envelope) (bool, error)
		update      func(*dynamodb.UpdateItemInput) error
		wantDeleted bool
		want        Stats
	}{
		{name: "stored, completed, deleted", wantDeleted: true, want: Stats{Processed: 1, Inserted: 1}},
		{name: "redelivery: already stored", save: func(context.Context, orders.Envelope) (bool, error) { return false, nil },
			wantDeleted: true, want: Stats{Processed: 1, Duplicates: 1}},
		{name: "poison is never deleted nor stored", body: `{"version":9}`,
			save: func(context.Context, orders.Envelope) (bool, error) {
				return false, errors.New("store called for poison")
			},
			want: Stats{Poison: 1}},
		{name: "store failure: not deleted", save: func(context.Context, orders.Envelope) (bool, error) { return false, errBoom },
			want: Stats{Failed: 1}},
		{name: "status failure: not deleted", update: func(*dynamodb.UpdateItemInput) error { return errBoom },
			want: Stats{Failed: 1}},
		{name: "no status record: stored and deleted",
			update:      func(*dynamodb.UpdateItemInput) error { return &ddbtypes.ConditionalCheckFailedException{} },
			wantDeleted: true, want: Stats{Processed: 1, Inserted: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.body
			if b == "" {
				b = body(t, "o1")
			}
			q := &fakeSQS{}
			p := newP(t, q, fakeDDB{update: tc.update}, fakeStore{save: tc.save}, nil, nil)
			p.handle(context.Background(), &message{id: "m", receipt: "r", body: b, receivedAt: time.Now()})
			deleted, _, _ := q.snapshot()
			if got := len(deleted) == 1; got != tc.wantDeleted {
				t.Fatalf("deleted = %v, want %v", deleted, tc.wantDeleted)
			}
			if got := p.Stats(); got != tc.want {
				t.Fatalf("stats = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// An order the site database refuses for good (orderstore.ErrPermanent, e.g.
// SQLSTATE 22P05) and a poison message of a known order end FAILED at once
// and are left for the DLQ; transient errors never fail an order.
func TestPermanentFailuresEndFailed(t *testing.T) {
	errConn := errors.New("dial tcp 127.0.0.1:5432: connection refused")
	errPerm := fmt.Errorf("%w: ERROR: unsupported Unicode escape sequence (SQLSTATE 22P05)", orderstore.ErrPermanent)
	good := body(t, "o1")
	for _, tc := range []struct {
		name       string
		body, attr string
		saveErr    error
		wantFailed string // order id moved to FAILED, "" for none
		want       Stats
	}{
		{name: "permanent store error", body: good, saveErr: errPerm, wantFailed: "o1", want: Stats{Poison: 1, FailedOrders: 1}},
		{name: "transient store error", body: good, saveErr: errConn, want: Stats{Failed: 1}},
		{name: "poison with orderId attribute", body: `{not json`, attr: "o7", wantFailed: "o7", want: Stats{Poison: 1, FailedOrders: 1}},
		{name: "poison with orderId in the body", body: `{"version":1,"orderId":"o8","order":{}}`, wantFailed: "o8", want: Stats{Poison: 1, FailedOrders: 1}},
		{name: "poison without order id", body: `{not json`, want: Stats{Poison: 1}},
		{name: "poison whose ids disagree", body: good, attr: "o2", want: Stats{Poison: 1}},
		{name: "unknown version is not this site's to fail", body: strings.Replace(good, `"version":1`, `"version":2`, 1), attr: "o1", want: Stats{Poison: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var advanced []string
			ddb := fakeDDB{update: func(in *dynamodb.UpdateItemInput) error {
				mu.Lock()
				defer mu.Unlock()
				to := in.ExpressionAttributeValues[":to"].(*ddbtypes.AttributeValueMemberS).Value
				key := in.Key[ordertable.AttrPK].(*ddbtypes.AttributeValueMemberS).Value
				advanced = append(advanced, key+"="+to)
				return nil
			}}
			st := fakeStore{save: func(context.Context, orders.Envelope) (bool, error) { return false, tc.saveErr }}
			q := &fakeSQS{}
			p := newP(t, q, ddb, st, nil, nil)
			p.handle(context.Background(), &message{id: "m", receipt: "r", body: tc.body, orderAttr: tc.attr, receivedAt: time.Now()})
			deleted, _, _ := q.snapshot()
			if len(deleted) != 0 {
				t.Fatalf("deleted %v: a failed order's message must reach the DLQ", deleted)
			}
			var want []string
			if tc.wantFailed != "" {
				want = []string{ordertable.OrderKey(tc.wantFailed) + "=" + string(orders.StatusFailed)}
			}
			if fmt.Sprint(advanced) != fmt.Sprint(want) {
				t.Fatalf("status writes %v, want %v", advanced, want)
			}
			if got := p.Stats(); got != tc.want {
				t.Fatalf("stats = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDeleteOnlyAfterStoreAndStatus(t *testing.T) {
	q := &fakeSQS{queue: []sqstypes.Message{msg("a", body(t, "a"), "a")}}
	var order []string
	var mu sync.Mutex
	rec := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	p := newP(t, q, fakeDDB{update: func(*dynamodb.UpdateItemInput) error {
		d, _, _ := q.snapshot()
		rec(fmt.Sprintf("advance(deleted=%d)", len(d)))
		return nil
	}}, fakeStore{save: func(context.Context, orders.Envelope) (bool, error) {
		d, _, _ := q.snapshot()
		rec(fmt.Sprintf("save(deleted=%d)", len(d)))
		return true, nil
	}}, nil, nil)
	if err := runUntil(t, p, func() bool { return p.Stats().Processed == 1 }); err != nil {
		t.Fatal(err)
	}
	if want := "save(deleted=0) advance(deleted=0)"; strings.Join(order, " ") != want {
		t.Fatalf("calls = %v, want %s", order, want)
	}
}

func TestShutdownHandsBackUnstarted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	q := &fakeSQS{queue: []sqstypes.Message{msg("a", body(t, "a"), ""), msg("b", body(t, "b"), ""), msg("c", body(t, "c"), "")}}
	// SIGTERM arrives while the receive is in flight; the receive still
	// returns its three messages.
	q.receive = func(context.Context) { cancel() }
	p := newP(t, q, fakeDDB{}, fakeStore{}, nil, func(c *Config) { c.Pollers = 1 })
	if err := p.Run(ctx); err != nil {
		t.Fatalf("Run = %v, want nil after a drain", err)
	}
	deleted, _, handed := q.snapshot()
	if len(deleted) != 0 || strings.Join(handed, ",") != "r-a=0,r-b=0,r-c=0" {
		t.Fatalf("deleted %v, handed back %v; want none deleted, all three handed back with visibility 0", deleted, handed)
	}
	if s := p.Stats(); s.HandedBack != 3 || s.Received != 3 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestDrainFinishesInFlight(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	q := &fakeSQS{queue: []sqstypes.Message{msg("a", body(t, "a"), "")}}
	p := newP(t, q, fakeDDB{}, fakeStore{save: func(ctx context.Context, _ orders.Envelope) (bool, error) {
		close(started)
		<-release
		return true, ctx.Err() // the work context must survive the cancellation
	}}, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	<-started
	cancel()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if deleted, _, _ := q.snapshot(); len(deleted) != 1 {
		t.Fatalf("in-flight message not finished: deleted %v", deleted)
	}
}

func TestDrainTimeout(t *testing.T) {
	q := &fakeSQS{queue: []sqstypes.Message{msg("a", body(t, "a"), "")}}
	started := make(chan struct{})
	p := newP(t, q, fakeDDB{}, fakeStore{save: func(ctx context.Context, _ orders.Envelope) (bool, error) {
		close(started)
		<-ctx.Done() // hangs until abandoned
		return false, ctx.Err()
	}}, nil, func(c *Config) { c.DrainTimeout = 20 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, ErrDrainTimeout) {
		t.Fatalf("Run = %v, want ErrDrainTimeout", err)
	}
	if deleted, _, _ := q.snapshot(); len(deleted) != 0 {
		t.Fatalf("abandoned message deleted: %v", deleted)
	}
}

func TestVisibilityExtendedWhileWorking(t *testing.T) {
	q := &fakeSQS{queue: []sqstypes.Message{msg("a", body(t, "a"), "")}}
	release := make(chan struct{})
	p := newP(t, q, fakeDDB{}, fakeStore{save: func(context.Context, orders.Envelope) (bool, error) {
		<-release
		return true, nil
	}}, nil, func(c *Config) { c.VisibilityTimeout = time.Second })
	var once sync.Once
	err := runUntil(t, p, func() bool {
		_, ext, _ := q.snapshot()
		if len(ext) >= 2 {
			once.Do(func() { close(release) })
			return p.Stats().Processed == 1
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	_, ext, _ := q.snapshot()
	if len(ext) < 2 || ext[0] != "r-a=1" {
		t.Fatalf("extensions = %v, want repeated r-a=1", ext)
	}
}

func TestMetrics(t *testing.T) {
	q := &fakeSQS{queue: []sqstypes.Message{msg("a", body(t, "a"), ""), msg("b", body(t, "b"), "")}}
	cw := &fakeCW{}
	p := newP(t, q, fakeDDB{}, fakeStore{}, cw, nil)
	if err := runUntil(t, p, func() bool { return p.Stats().Processed == 2 }); err != nil {
		t.Fatal(err)
	}
	cw.mu.Lock()
	defer cw.mu.Unlock()
	var beats, processed float64
	for _, in := range cw.puts {
		if aws.ToString(in.Namespace) != "Homeregion/Processor" {
			t.Fatalf("namespace %q", aws.ToString(in.Namespace))
		}
		for _, d := range in.MetricData {
			if len(d.Dimensions) != 1 || aws.ToString(d.Dimensions[0].Name) != "Site" || aws.ToString(d.Dimensions[0].Value) != "s" {
				t.Fatalf("dimensions %+v", d.Dimensions)
			}
			switch aws.ToString(d.MetricName) {
			case "Heartbeat":
				beats += aws.ToFloat64(d.Value)
			case "OrdersProcessed":
				processed += aws.ToFloat64(d.Value)
			default:
				t.Fatalf("unexpected metric %q", aws.ToString(d.MetricName))
			}
		}
	}
	if beats < 1 || processed != 2 {
		t.Fatalf("heartbeats %v, processed %v; want >= 1 and 2", beats, processed)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	ok := Config{QueueURL: "q", OrdersTable: "t", Site: "s"}
	deps := Deps{SQS: &fakeSQS{}, DynamoDB: fakeDDB{}, Store: fakeStore{}}
	for _, tc := range []struct {
		name string
		mod  func(*Config, *Deps)
		want string
	}{
		{"no queue", func(c *Config, _ *Deps) { c.QueueURL = "" }, "no queue URL"},
		{"no table", func(c *Config, _ *Deps) { c.OrdersTable = "" }, "no orders table"},
		{"no site", func(c *Config, _ *Deps) { c.Site = "" }, "no site name"},
		{"no store", func(_ *Config, d *Deps) { d.Store = nil }, "required"},
		{"wait too long", func(c *Config, _ *Deps) { c.WaitTime = 21 * time.Second }, "wait time"},
		{"visibility too short", func(c *Config, _ *Deps) { c.VisibilityTimeout = time.Millisecond }, "visibility timeout"},
		{"concurrency too high", func(c *Config, _ *Deps) { c.Concurrency = 5000 }, "concurrency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, d := ok, deps
			tc.mod(&c, &d)
			if _, err := New(c, d); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want %q", err, tc.want)
			}
		})
	}
	p, err := New(ok, deps)
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Config(); c.Concurrency != DefaultConcurrency || c.Pollers != 2 || c.WaitTime != 20*time.Second || c.VisibilityTimeout != time.Minute {
		t.Fatalf("defaults = %+v", c)
	}
}
