package processor

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/internal/logtest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/sealed"
	"github.com/homeregion/homeregion/shared/zonepair"
)

// euPair is eu-west-1's pair with eu-central-1.
var euPair = zonepair.Pair{Region: "eu-west-1", Partner: "eu-central-1", Witness: "eu-west-3"}

func TestParseEnvPair(t *testing.T) {
	const (
		home    = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders"
		partner = "https://sqs.eu-central-1.amazonaws.com/123456789012/orders"
	)
	base := map[string]string{"ORDERS_QUEUE_URL": home, "ORDERS_TABLE": "orders", "SITE_NAME": "berlin-1", "AWS_REGION": "eu-west-1"}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr string
		loops   []Config // QueueURL and Region of each loop
	}{
		{name: "no pair: one loop, no region of its own", loops: []Config{{QueueURL: home}}},
		{name: "none is no pair", env: map[string]string{"PAIR_REGION": "none"}, loops: []Config{{QueueURL: home}}},
		{name: "pair: two loops, each in its queue's region",
			env:   map[string]string{"PAIR_REGION": "eu-central-1", "PAIR_QUEUE_URL": partner},
			loops: []Config{{QueueURL: home, Region: "eu-west-1"}, {QueueURL: partner, Region: "eu-central-1"}}},
		{name: "partner without its queue", env: map[string]string{"PAIR_REGION": "eu-central-1"}, wantErr: "PAIR_QUEUE_URL is not set"},
		{name: "queue without a partner", env: map[string]string{"PAIR_QUEUE_URL": partner}, wantErr: "PAIR_QUEUE_URL is set without PAIR_REGION"},
		{name: "queue with partner none", env: map[string]string{"PAIR_REGION": "none", "PAIR_QUEUE_URL": partner}, wantErr: "without PAIR_REGION"},
		{name: "partner outside the zone", env: map[string]string{"PAIR_REGION": "us-east-1", "PAIR_QUEUE_URL": partner}, wantErr: "PAIR_REGION"},
		{name: "partner is this region", env: map[string]string{"PAIR_REGION": "eu-west-1", "PAIR_QUEUE_URL": partner}, wantErr: "PAIR_REGION"},
		{name: "partner not a region", env: map[string]string{"PAIR_REGION": "europe", "PAIR_QUEUE_URL": partner}, wantErr: "PAIR_REGION"},
		{name: "partner without AWS_REGION", env: map[string]string{"AWS_REGION": "", "PAIR_REGION": "eu-central-1", "PAIR_QUEUE_URL": partner}, wantErr: "AWS_REGION"},
		{name: "partner queue not a URL", env: map[string]string{"PAIR_REGION": "eu-central-1", "PAIR_QUEUE_URL": "orders"}, wantErr: "PAIR_QUEUE_URL"},
		{name: "partner queue is this region's", env: map[string]string{"PAIR_REGION": "eu-central-1", "PAIR_QUEUE_URL": home}, wantErr: "is a queue of eu-west-1, not of PAIR_REGION eu-central-1"},
		{name: "partner queue of a third region", env: map[string]string{"PAIR_REGION": "eu-central-1", "PAIR_QUEUE_URL": "https://sqs.eu-west-3.amazonaws.com/123456789012/orders"}, wantErr: "not of PAIR_REGION"},
		// A local emulator's URL names no region (the signing region picks
		// the queue), so both regions' queues may share it.
		{name: "local queue URLs", env: map[string]string{"ORDERS_QUEUE_URL": "http://127.0.0.1:5000/123456789012/orders", "PAIR_REGION": "eu-central-1", "PAIR_QUEUE_URL": "http://127.0.0.1:5000/123456789012/orders"},
			loops: []Config{{QueueURL: "http://127.0.0.1:5000/123456789012/orders", Region: "eu-west-1"}, {QueueURL: "http://127.0.0.1:5000/123456789012/orders", Region: "eu-central-1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			c, err := ParseEnv(func(k string) string { return env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			loops := c.Loops()
			if len(loops) != len(tc.loops) {
				t.Fatalf("Loops() = %d loops, want %d", len(loops), len(tc.loops))
			}
			for i, l := range loops {
				if l.QueueURL != tc.loops[i].QueueURL || l.Region != tc.loops[i].Region {
					t.Errorf("loop %d: queue %s in %q, want %s in %q", i, l.QueueURL, l.Region, tc.loops[i].QueueURL, tc.loops[i].Region)
				}
				if l.OrdersTable != "orders" || l.Pair != c.Pair {
					t.Errorf("loop %d: table %q, pair %+v: every loop claims in the one table with the site's pair", i, l.OrdersTable, l.Pair)
				}
				// Every loop is a valid processor of its own.
				_, _, keys := processortest.NewKey(t)
				if _, err := New(l, Deps{SQS: &fakeSQS{}, DynamoDB: fakeDDB{}, Store: fakeStore{}, Keys: keys}); err != nil {
					t.Errorf("loop %d: New: %v", i, err)
				}
			}
		})
	}
}

func TestNewRejectsHalfAPair(t *testing.T) {
	_, _, keys := processortest.NewKey(t)
	for name, c := range map[string]Config{
		"partner without its queue": {QueueURL: "q", OrdersTable: "t", Site: "s", Pair: euPair},
		"queue without a partner":   {QueueURL: "q", OrdersTable: "t", Site: "s", PairQueueURL: "q2"},
	} {
		if _, err := New(c, Deps{SQS: &fakeSQS{}, DynamoDB: fakeDDB{}, Store: fakeStore{}, Keys: keys}); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

// In a pair, only the pair's regions' messages are read, of every version;
// outside a pair, any region is read as before.
func TestRegionOfThePair(t *testing.T) {
	_, pub, keys := processortest.NewKey(t)
	envOf := func(region string) orders.Envelope {
		env := processortest.Envelope("o1")
		env.Version, env.Region = orders.SealedVersion, region
		return env
	}
	erasureOf := func(region string) string {
		m, err := sealedErasure(pub, orders.Erasure{ErasureID: "er-1", Region: region, Owner: "sub", CreatedAt: time.Unix(1, 0).UTC()})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	const refused = "is not a region of this site's zone pair"
	for _, tc := range []struct {
		name   string
		pair   zonepair.Pair
		region string
		want   string // "" when read
	}{
		{name: "pair: own region", pair: euPair, region: "eu-west-1"},
		{name: "pair: partner's region", pair: euPair, region: "eu-central-1"},
		{name: "pair: another zone's region", pair: euPair, region: "us-east-1", want: refused},
		{name: "pair: the witness region", pair: euPair, region: "eu-west-3", want: refused},
		{name: "no pair: any region, as before", pair: zonepair.Pair{Region: "eu-west-1"}, region: "us-east-1"},
		{name: "no pair: no region is poison", pair: zonepair.Pair{Region: "eu-west-1"}, region: "", want: "has no region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Processor{cfg: Config{Pair: tc.pair}, deps: Deps{Keys: keys}}
			_, err := p.decode(&message{body: sealedBody(t, pub, envOf(tc.region)), orderAttr: "o1"})
			_, eErr := p.decodeErasure(&message{body: erasureOf(tc.region)})
			for what, err := range map[string]error{"order": err, "erasure": eErr} {
				if tc.want == "" && err != nil {
					t.Errorf("%s: %v", what, err)
				}
				if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
					t.Errorf("%s: err = %v, want %q", what, err, tc.want)
				}
			}
		})
	}
}

// A message of a region outside the pair is left for the dead-letter queue
// of its queue (never deleted), its reason logged, its order untouched (it
// is no order of this pair), nothing stored.
func TestForeignRegionLeftForTheDLQ(t *testing.T) {
	_, pub, keys := processortest.NewKey(t)
	env := processortest.Envelope("o1")
	env.Version, env.Region = orders.SealedVersion, "us-east-1"
	logs := &logtest.Buffer{}
	q := &fakeSQS{}
	var writes atomic.Int32
	st := fakeStore{prepare: saved(func(context.Context) error { return errors.New("stored a foreign region's order") })}
	ddb := fakeDDB{update: func(*dynamodb.UpdateItemInput) error { writes.Add(1); return nil }}
	p, err := New(Config{QueueURL: "q", OrdersTable: "t", Site: "s", Pair: euPair, PairQueueURL: "q2"},
		Deps{SQS: q, DynamoDB: ddb, Store: st, Keys: keys, Log: logs.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	p.handleBatch(context.Background(), []*message{&message{id: "m", receipt: "r", body: sealedBody(t, pub, env), orderAttr: "o1", receivedAt: time.Now()}})
	if deleted, _, _ := q.snapshot(); len(deleted) != 0 {
		t.Errorf("deleted %v: a foreign region's message must reach the DLQ", deleted)
	}
	if n := writes.Load(); n != 0 {
		t.Errorf("%d orders-table writes: a foreign region's order is not this pair's to fail", n)
	}
	if s := p.Stats(); s != (Stats{Poison: 1}) {
		t.Errorf("stats = %+v, want one poison", s)
	}
	if !strings.Contains(logs.String(), `message region \"us-east-1\" is not a region of this site's zone pair`) {
		t.Errorf("no logged reason:\n%s", logs.String())
	}
	processortest.CheckNoPII(t, logs.String())
}

// failingSQS is a queue whose region is impaired: every call fails.
type failingSQS struct{ calls atomic.Int32 }

func (f *failingSQS) ReceiveMessage(ctx context.Context, _ *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.calls.Add(1)
	return nil, errors.New("connection refused")
}

func (f *failingSQS) DeleteMessage(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	return nil, errors.New("connection refused")
}

func (f *failingSQS) DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	return nil, errors.New("connection refused")
}

func (f *failingSQS) ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	return nil, errors.New("connection refused")
}

func (f *failingSQS) ChangeMessageVisibilityBatch(context.Context, *sqs.ChangeMessageVisibilityBatchInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	return nil, errors.New("connection refused")
}

// An impaired partner region stops only its own loop: its registration and
// receives fail, while the other loop registers, receives and completes
// orders and erasures of both regions into the same site database.
func TestImpairedRegionStopsOnlyItsLoop(t *testing.T) {
	_, pub, keys := processortest.NewKey(t)
	down := errors.New("eu-central-1 is down")
	var (
		mu     sync.Mutex
		erased []string
	)
	st := fakeStore{erase: func(_, erasureID string, _ func(*sql.Tx) error) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		erased = append(erased, erasureID)
		return 1, nil
	}}
	partnerOrder := processortest.Envelope("o-c")
	partnerOrder.Version, partnerOrder.Region = orders.SealedVersion, "eu-central-1"
	homeOrder := processortest.Envelope("o-w")
	homeOrder.Version = orders.SealedVersion
	eras, err := sealedErasure(pub, orders.Erasure{ErasureID: "er-1", Region: "eu-central-1", Owner: "sub", CreatedAt: time.Unix(1, 0).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	healthy := &fakeSQS{}
	healthy.queue = append(healthy.queue, msg("w", sealedBody(t, pub, homeOrder), "o-w"), msg("c", sealedBody(t, pub, partnerOrder), "o-c"), msg("e", eras, ""))
	impaired := &failingSQS{}
	cfg := Config{OrdersTable: "t", Site: "s", Concurrency: 2, WaitTime: time.Second, Pair: euPair, PairQueueURL: "qc"}
	loops := cfg.Loops()
	loops[0].QueueURL = "qw"
	w, err := New(loops[0], Deps{SQS: healthy, DynamoDB: fakeDDB{}, Store: st, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(loops[1], Deps{SQS: impaired, DynamoDB: fakeDDB{register: func(*dynamodb.UpdateItemInput) error { return down }}, Store: st, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- w.Run(ctx) }()
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for w.Stats().Processed+w.Stats().Erasures < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	if s := w.Stats(); s.Processed != 2 || s.Inserted != 2 || s.Erasures != 1 {
		t.Errorf("healthy loop: %+v, want both regions' orders and the erasure done", s)
	}
	if s := c.Stats(); s.Received != 0 {
		t.Errorf("impaired loop received %d", s.Received)
	}
	if n := impaired.calls.Load(); n != 0 {
		t.Errorf("impaired loop polled %d times before its registration succeeded", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(erased) != 1 || erased[0] != "er-1" {
		t.Errorf("erased %v", erased)
	}
}

// sealedErasure is the body of the version 3 message of e, sealed to pub.
func sealedErasure(pub sealed.PublicKey, e orders.Erasure) (string, error) {
	m, err := sealed.SealErasure(pub, e)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(m)
	return string(b), err
}
