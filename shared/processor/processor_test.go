package processor

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/ordertable"
	"github.com/homeregion/homeregion/shared/sealed"
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

func (f *fakeSQS) DeleteMessageBatch(_ context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &sqs.DeleteMessageBatchOutput{}
	for _, e := range in.Entries {
		f.deleted = append(f.deleted, aws.ToString(e.ReceiptHandle))
		out.Successful = append(out.Successful, sqstypes.DeleteMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
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
		// Visibility 0 hands a message back; any other value extends or
		// defers it.
		rec := fmt.Sprintf("%s=%d", aws.ToString(e.ReceiptHandle), e.VisibilityTimeout)
		if e.VisibilityTimeout == 0 {
			f.handed = append(f.handed, rec)
		} else {
			f.extended = append(f.extended, rec)
		}
		out.Successful = append(out.Successful, sqstypes.ChangeMessageVisibilityBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

func (f *fakeSQS) snapshot() (deleted, extended, handed []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.deleted...), append([]string(nil), f.extended...), append([]string(nil), f.handed...)
}

// fakeDDB is the orders table of one ACCEPTED, unclaimed order per id:
// every claim wins and every settle succeeds, unless update (called first)
// returns an error for the call. The site's registration (SITES) and
// erasure confirmations (ERASURE#...) go to register and confirm instead,
// when set, and succeed otherwise.
type fakeDDB struct {
	update      func(in *dynamodb.UpdateItemInput) error
	claimStatus orders.Status // the status a won claim finds; "" is ACCEPTED
	register    func(in *dynamodb.UpdateItemInput) error
	confirm     func(in *dynamodb.UpdateItemInput) error
	// erasure is the erasure id of the record GetItem finds for any owner:
	// "" is er-1, "-" is none.
	erasure string
}

func (f fakeDDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	pk, _ := in.Key[ordertable.AttrPK].(*ddbtypes.AttributeValueMemberS)
	if pk == nil || !strings.HasPrefix(pk.Value, "ERASURE#") || f.erasure == "-" {
		return &dynamodb.GetItemOutput{}, nil
	}
	return &dynamodb.GetItemOutput{Item: map[string]ddbtypes.AttributeValue{
		ordertable.AttrPK:          pk,
		ordertable.AttrErasureID:   &ddbtypes.AttributeValueMemberS{Value: cmp.Or(f.erasure, "er-1")},
		ordertable.AttrStatus:      &ddbtypes.AttributeValueMemberS{Value: string(ordertable.ErasureInProgress)},
		ordertable.AttrRequestedAt: &ddbtypes.AttributeValueMemberS{Value: "2026-11-30T10:00:00Z"},
		ordertable.AttrUpdatedAt:   &ddbtypes.AttributeValueMemberS{Value: "2026-11-30T10:00:00Z"},
	}}, nil
}

func (f fakeDDB) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	pk, _ := in.Key[ordertable.AttrPK].(*ddbtypes.AttributeValueMemberS)
	switch {
	case pk != nil && pk.Value == ordertable.SitesKey:
		if f.register != nil {
			return &dynamodb.UpdateItemOutput{}, f.register(in)
		}
		return &dynamodb.UpdateItemOutput{}, nil
	case pk != nil && strings.HasPrefix(pk.Value, "CONFIRM#"):
		if f.confirm != nil {
			return &dynamodb.UpdateItemOutput{}, f.confirm(in)
		}
		return &dynamodb.UpdateItemOutput{}, nil
	}
	if f.update != nil {
		if err := f.update(in); err != nil {
			return nil, err
		}
	}
	if claimWrite(in) {
		status := cmp.Or(f.claimStatus, orders.StatusAccepted)
		return &dynamodb.UpdateItemOutput{Attributes: map[string]ddbtypes.AttributeValue{
			ordertable.AttrStatus:     &ddbtypes.AttributeValueMemberS{Value: string(status)},
			ordertable.AttrClaim:      in.ExpressionAttributeValues[":t"],
			ordertable.AttrClaimStore: in.ExpressionAttributeValues[":s"],
		}}, nil
	}
	return &dynamodb.UpdateItemOutput{}, nil
}

// claimWrite reports whether in is ordertable.Claim's write (not Settle's).
func claimWrite(in *dynamodb.UpdateItemInput) bool {
	_, claim := in.ExpressionAttributeValues[":s"]
	return claim
}

// claimedBy is the ConditionalCheckFailedException of a claim that another
// database holds, with the order in status.
func claimedBy(status orders.Status) error {
	return &ddbtypes.ConditionalCheckFailedException{Item: map[string]ddbtypes.AttributeValue{
		ordertable.AttrStatus:     &ddbtypes.AttributeValueMemberS{Value: string(status)},
		ordertable.AttrClaim:      &ddbtypes.AttributeValueMemberS{Value: "claim-other"},
		ordertable.AttrClaimStore: &ddbtypes.AttributeValueMemberS{Value: "db-other"},
	}}
}

// fakeStore is a site database whose rows are always new and PREPARED, the
// Handler always runs, unless a hook says otherwise.
type fakeStore struct {
	prepare func(ctx context.Context, env orders.Envelope) (orderstore.Order, error)
	handle  func(ctx context.Context, id string) (bool, error)
	discard func(id, token string)
	pending func(before time.Time) []orderstore.Order
	erase   func(owner, erasureID string, fn func(*sql.Tx) error) (int, error)
	forget  func(id string) error
	prune   func(before time.Time) (int, error)
	owners  func(after string, limit int) ([]string, error)
}

func (f fakeStore) Owners(_ context.Context, after string, limit int) ([]string, error) {
	if f.owners != nil {
		return f.owners(after, limit)
	}
	return nil, nil
}

func (f fakeStore) Erase(_ context.Context, owner, erasureID string, fn func(*sql.Tx) error) (int, error) {
	if f.erase != nil {
		return f.erase(owner, erasureID, fn)
	}
	if fn != nil {
		if err := fn(nil); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

func (f fakeStore) Forget(_ context.Context, id string) error {
	if f.forget != nil {
		return f.forget(id)
	}
	return nil
}

func (f fakeStore) PruneErased(_ context.Context, before time.Time) (int, error) {
	if f.prune != nil {
		return f.prune(before)
	}
	return 0, nil
}

func (f fakeStore) ID() string { return "db-test" }

func (f fakeStore) Prepare(ctx context.Context, env orders.Envelope) (orderstore.Order, error) {
	if f.prepare != nil {
		return f.prepare(ctx, env)
	}
	return orderstore.Order{Envelope: env, State: orderstore.StatePrepared, Token: "claim-" + env.OrderID}, nil
}

func (f fakeStore) Handle(ctx context.Context, id string, fn func(*sql.Tx) error) (bool, error) {
	if f.handle != nil {
		return f.handle(ctx, id)
	}
	if fn != nil {
		if err := fn(nil); err != nil {
			return false, err
		}
	}
	return true, nil
}

// PrepareBatch, HandleBatch and FinishBatch are Prepare, Handle and
// Finish for each order, with their hooks.
func (f fakeStore) PrepareBatch(ctx context.Context, envs []orders.Envelope) ([]orderstore.Prepared, error) {
	out := make([]orderstore.Prepared, len(envs))
	for i, env := range envs {
		out[i].Order, out[i].Err = f.Prepare(ctx, env)
	}
	return out, nil
}

func (f fakeStore) HandleBatch(ctx context.Context, ids []string, fn func(*sql.Tx, string) error) ([]orderstore.Handled, error) {
	out := make([]orderstore.Handled, len(ids))
	for i, id := range ids {
		var one func(*sql.Tx) error
		if fn != nil {
			one = func(tx *sql.Tx) error { return fn(tx, id) }
		}
		out[i].Ran, out[i].Err = f.Handle(ctx, id, one)
	}
	return out, nil
}

func (f fakeStore) FinishBatch(context.Context, []string) error { return nil }

func (f fakeStore) Finish(context.Context, string) error                 { return nil }
func (f fakeStore) Fail(context.Context, string, orderstore.State) error { return nil }
func (f fakeStore) Discard(_ context.Context, id, token string) error {
	if f.discard != nil {
		f.discard(id, token)
	}
	return nil
}
func (f fakeStore) Pending(_ context.Context, before time.Time, _ orderstore.Order, _ int) ([]orderstore.Order, error) {
	if f.pending != nil {
		return f.pending(before), nil
	}
	return nil, nil
}

// saved is a prepare hook that reports a new row after calling fn.
func saved(fn func(ctx context.Context) error) func(context.Context, orders.Envelope) (orderstore.Order, error) {
	return func(ctx context.Context, env orders.Envelope) (orderstore.Order, error) {
		if err := fn(ctx); err != nil {
			return orderstore.Order{}, err
		}
		return orderstore.Order{Envelope: env, State: orderstore.StatePrepared, Token: "claim-" + env.OrderID}, nil
	}
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

// sealedBody is the version 2 message of env, sealed to pub.
func sealedBody(t testing.TB, pub sealed.PublicKey, env orders.Envelope) string {
	t.Helper()
	m, err := sealed.SealEnvelope(pub, env)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m)
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
	_, _, keys := processortest.NewKey(t)
	p, err := New(cfg, Deps{SQS: q, DynamoDB: ddb, Store: st, CloudWatch: cw, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecode(t *testing.T) {
	good := body(t, "o1")
	_, pub, keys := processortest.NewKey(t)
	_, otherPub, _ := processortest.NewKey(t)
	env := orders.Envelope{Version: orders.SealedVersion, OrderID: "o1", Region: "eu-west-1", Owner: "sub", CreatedAt: time.Unix(1, 0).UTC(),
		Order: orders.Order{Items: []orders.Item{{SKU: "A", Quantity: 1}}, Note: "secret-note"}}
	sealedGood := sealedBody(t, pub, env)
	other := env
	other.OrderID = "o2"
	// The ciphertext of o2's message moved into o1's.
	var moved, donor orders.SealedEnvelope
	_ = json.Unmarshal([]byte(sealedGood), &moved)
	_ = json.Unmarshal([]byte(sealedBody(t, pub, other)), &donor)
	moved.Sealed = donor.Sealed
	movedBody, _ := json.Marshal(moved)
	otherOwner := env
	otherOwner.Owner = "sub2"
	var ownerMoved orders.SealedEnvelope
	_ = json.Unmarshal([]byte(sealedBody(t, pub, otherOwner)), &ownerMoved)
	ownerMoved.Owner = "sub"
	ownerMovedBody, _ := json.Marshal(ownerMoved)
	unknownKey := sealedBody(t, otherPub, env)
	var altered orders.SealedEnvelope
	_ = json.Unmarshal([]byte(sealedGood), &altered)
	altered.Sealed.Ciphertext = altered.Sealed.Ciphertext[:40] + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, altered.Sealed.Ciphertext[40:41]) + altered.Sealed.Ciphertext[41:]
	alteredBody, _ := json.Marshal(altered)
	for _, tc := range []struct {
		name, body, attr, want string
		refusePlain            bool
	}{
		{name: "valid", body: good, attr: "o1"},
		{name: "valid without attribute", body: good},
		{name: "not json", body: "{nope", want: "malformed JSON body"},
		{name: "no version", body: `{"orderId":"o1"}`, want: "envelope has no version"},
		{name: "unknown version", body: strings.Replace(good, `"version":1`, `"version":9`, 1), want: "unknown envelope version 9"},
		{name: "wrong field type", body: `{"version":1,"orderId":5}`, want: "malformed version 1 envelope"},
		{name: "no order id", body: strings.Replace(good, `"orderId":"o1"`, `"orderId":""`, 1), want: "envelope has no orderId"},
		{name: "attribute mismatch", body: good, attr: "o2", want: "orderId attribute differs"},
		{name: "no owner", body: strings.Replace(good, `"owner":"sub"`, `"owner":""`, 1), want: "envelope has no owner"},
		{name: "no items", body: strings.Replace(good, `[{"sku":"A","quantity":1}]`, `[]`, 1), want: "order has no items"},
		{name: "plaintext refused", body: good, refusePlain: true, want: "plaintext (version 1) orders are no longer accepted"},
		{name: "sealed", body: sealedGood, attr: "o1"},
		{name: "sealed while plaintext refused", body: sealedGood, refusePlain: true},
		{name: "sealed attribute mismatch", body: sealedGood, attr: "o2", want: "orderId attribute differs"},
		{name: "sealed no owner", body: strings.Replace(sealedGood, `"owner":"sub"`, `"owner":""`, 1), want: "envelope has no owner"},
		{name: "sealed no region", body: strings.Replace(sealedGood, `"region":"eu-west-1"`, `"region":""`, 1), want: "envelope has no region"},
		{name: "sealed wrong field type", body: `{"version":2,"orderId":"o1","sealed":"x"}`, want: "malformed version 2 envelope"},
		{name: "sealed no kid", body: strings.Replace(sealedGood, `"kid":"`+pub.KeyID()+`"`, `"kid":""`, 1), want: "no sealed.kid or sealed.ct"},
		{name: "sealed no box", body: `{"version":2,"orderId":"o1","region":"r","owner":"sub","createdAt":"2026-01-01T00:00:00Z"}`, want: "no sealed.kid or sealed.ct"},
		{name: "sealed to an unknown key", body: unknownKey, want: `kid "` + otherPub.KeyID() + `"`},
		{name: "ciphertext of another order", body: string(movedBody), want: "does not open"},
		{name: "ciphertext of another owner", body: string(ownerMovedBody), want: "does not open"},
		{name: "createdAt changed", body: strings.Replace(sealedGood, `"createdAt":"1970-01-01T00:00:01Z"`, `"createdAt":"1970-01-01T00:00:02Z"`, 1), want: "does not open"},
		{name: "ciphertext altered", body: string(alteredBody), want: "does not open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Processor{cfg: Config{RefusePlaintext: tc.refusePlain}, deps: Deps{Keys: keys}}
			got, err := p.decode(&message{body: tc.body, orderAttr: tc.attr})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if got.OrderID != "o1" || len(got.Order.Items) != 1 {
					t.Fatalf("decoded %+v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("decode error = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "sub") || strings.Contains(err.Error(), "secret-note") {
				t.Fatalf("error leaks body content: %v", err)
			}
		})
	}
}

func TestHandle(t *testing.T) {
	errBoom := errors.New("boom")
	stored := func(state orderstore.State) func(context.Context, orders.Envelope) (orderstore.Order, error) {
		return func(_ context.Context, env orders.Envelope) (orderstore.Order, error) {
			return orderstore.Order{Envelope: env, State: state, Token: "claim-" + env.OrderID}, nil
		}
	}
	onClaim := func(err error) func(*dynamodb.UpdateItemInput) error {
		return func(in *dynamodb.UpdateItemInput) error {
			if claimWrite(in) {
				return err
			}
			return nil
		}
	}
	for _, tc := range []struct {
		name          string
		body          string
		store         fakeStore
		update        func(*dynamodb.UpdateItemInput) error
		claimStatus   orders.Status
		handler       HandlerFunc
		wantDeleted   bool
		wantDeferred  bool
		wantDiscarded bool
		want          Stats
	}{
		{name: "stored, claimed, handled, completed, deleted", wantDeleted: true, want: Stats{Processed: 1, Inserted: 1}},
		{name: "redelivery: already done here", store: fakeStore{prepare: stored(orderstore.StateDone)},
			wantDeleted: true, want: Stats{Processed: 1, Duplicates: 1}},
		{name: "redelivery: handled here, crashed before COMPLETED", store: fakeStore{prepare: stored(orderstore.StateHandled),
			handle: func(context.Context, string) (bool, error) { return false, nil }},
			handler:     func(context.Context, *sql.Tx, orders.Envelope) error { return errors.New("handler ran again") },
			wantDeleted: true, want: Stats{Processed: 1, Duplicates: 1}},
		{name: "redelivery: settled here already, nothing runs again", store: fakeStore{prepare: stored(orderstore.StateHandled)},
			claimStatus: orders.StatusCompleted,
			handler:     func(context.Context, *sql.Tx, orders.Envelope) error { return errors.New("handler ran again") },
			update: func(in *dynamodb.UpdateItemInput) error {
				if !claimWrite(in) {
					return errors.New("settled again")
				}
				return nil
			},
			wantDeleted: true, want: Stats{Processed: 1, Duplicates: 1}},
		{name: "poison is never deleted nor stored", body: `{"version":9}`,
			store: fakeStore{prepare: saved(func(context.Context) error { return errors.New("store called for poison") })},
			want:  Stats{Poison: 1}},
		{name: "store failure: not deleted", store: fakeStore{prepare: saved(func(context.Context) error { return errBoom })},
			want: Stats{Failed: 1}},
		{name: "claim failure: not deleted", update: onClaim(errBoom), want: Stats{Failed: 1}},
		{name: "status failure: not deleted", update: func(in *dynamodb.UpdateItemInput) error {
			if claimWrite(in) {
				return nil
			}
			return errBoom
		}, want: Stats{Failed: 1, Inserted: 1}},
		{name: "claimed by another database: row discarded, message deferred", update: onClaim(claimedBy(orders.StatusAccepted)),
			handler: func(context.Context, *sql.Tx, orders.Envelope) error {
				return errors.New("handler ran for a lost claim")
			},
			wantDeferred: true, wantDiscarded: true, want: Stats{Deferred: 1}},
		{name: "settled by another database: row discarded, message deleted", update: onClaim(claimedBy(orders.StatusCompleted)),
			wantDeleted: true, wantDiscarded: true, want: Stats{Processed: 1, Duplicates: 1}},
		{name: "failed by another database: row discarded, left for the DLQ", update: onClaim(claimedBy(orders.StatusFailed)),
			wantDiscarded: true, want: Stats{Poison: 1}},
		{name: "no status record: nothing runs, left for the DLQ",
			update:        onClaim(&ddbtypes.ConditionalCheckFailedException{}),
			wantDiscarded: true, want: Stats{Poison: 1}},
		{name: "handler fails: left for redelivery", handler: func(context.Context, *sql.Tx, orders.Envelope) error { return errBoom },
			want: Stats{Failed: 1}},
		{name: "handler refuses for good: FAILED, left for the DLQ",
			handler: func(context.Context, *sql.Tx, orders.Envelope) error { return Permanent(errBoom) },
			want:    Stats{Poison: 1, FailedOrders: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.body
			if b == "" {
				b = body(t, "o1")
			}
			q := &fakeSQS{}
			discarded := false
			st := tc.store
			st.discard = func(id, token string) { discarded = id == "o1" && token == "claim-o1" }
			p := newP(t, q, fakeDDB{update: tc.update, claimStatus: tc.claimStatus}, st, nil, nil)
			if tc.handler != nil {
				p.deps.Handler = tc.handler
			}
			p.deps.Deliverer = deliverFunc(func(context.Context, orders.Envelope) error {
				if tc.claimStatus == orders.StatusCompleted {
					return errors.New("delivered again")
				}
				return nil
			})
			p.handleBatch(context.Background(), []*message{&message{id: "m", receipt: "r", body: b, receivedAt: time.Now()}})
			deleted, ext, _ := q.snapshot()
			if got := len(deleted) == 1; got != tc.wantDeleted {
				t.Fatalf("deleted = %v, want %v", deleted, tc.wantDeleted)
			}
			if got := fmt.Sprint(ext) == "[r=60]"; got != tc.wantDeferred {
				t.Fatalf("visibility changes = %v, want deferred %v", ext, tc.wantDeferred)
			}
			if discarded != tc.wantDiscarded {
				t.Fatalf("discarded = %v, want %v", discarded, tc.wantDiscarded)
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
		{name: "unknown version is not this site's to fail", body: strings.Replace(good, `"version":1`, `"version":3`, 1), attr: "o1", want: Stats{Poison: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var advanced []string
			ddb := fakeDDB{update: func(in *dynamodb.UpdateItemInput) error {
				if claimWrite(in) {
					return nil
				}
				mu.Lock()
				defer mu.Unlock()
				to := in.ExpressionAttributeValues[":to"].(*ddbtypes.AttributeValueMemberS).Value
				key := in.Key[ordertable.AttrPK].(*ddbtypes.AttributeValueMemberS).Value
				advanced = append(advanced, key+"="+to)
				return nil
			}}
			st := fakeStore{prepare: saved(func(context.Context) error { return tc.saveErr })}
			q := &fakeSQS{}
			p := newP(t, q, ddb, st, nil, nil)
			p.handleBatch(context.Background(), []*message{&message{id: "m", receipt: "r", body: tc.body, orderAttr: tc.attr, receivedAt: time.Now()}})
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

// deliverFunc adapts a function to a Deliverer.
type deliverFunc func(context.Context, orders.Envelope) error

func (f deliverFunc) Deliver(ctx context.Context, o orders.Envelope) error { return f(ctx, o) }

func TestDeleteOnlyAfterStoreAndStatus(t *testing.T) {
	q := &fakeSQS{queue: []sqstypes.Message{msg("a", body(t, "a"), "a")}}
	var order []string
	var mu sync.Mutex
	rec := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	step := func(name string) {
		d, _, _ := q.snapshot()
		rec(fmt.Sprintf("%s(deleted=%d)", name, len(d)))
	}
	p := newP(t, q, fakeDDB{update: func(in *dynamodb.UpdateItemInput) error {
		if claimWrite(in) {
			step("claim")
		} else {
			step("settle")
		}
		return nil
	}}, fakeStore{prepare: saved(func(context.Context) error { step("prepare"); return nil })}, nil, nil)
	p.deps.Handler = HandlerFunc(func(context.Context, *sql.Tx, orders.Envelope) error { step("handler"); return nil })
	p.deps.Deliverer = deliverFunc(func(context.Context, orders.Envelope) error { step("deliver"); return nil })
	if err := runUntil(t, p, func() bool { return p.Stats().Processed == 1 }); err != nil {
		t.Fatal(err)
	}
	if want := "prepare(deleted=0) claim(deleted=0) handler(deleted=0) deliver(deleted=0) settle(deleted=0)"; strings.Join(order, " ") != want {
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
	p := newP(t, q, fakeDDB{}, fakeStore{prepare: saved(func(ctx context.Context) error {
		close(started)
		<-release
		return ctx.Err() // the work context must survive the cancellation
	})}, nil, nil)
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
	p := newP(t, q, fakeDDB{}, fakeStore{prepare: saved(func(ctx context.Context) error {
		close(started)
		<-ctx.Done() // hangs until abandoned
		return ctx.Err()
	})}, nil, func(c *Config) { c.DrainTimeout = 20 * time.Millisecond })
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
	p := newP(t, q, fakeDDB{}, fakeStore{prepare: saved(func(context.Context) error {
		<-release
		return nil
	})}, nil, func(c *Config) { c.VisibilityTimeout = time.Second })
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
	_, _, keys := processortest.NewKey(t)
	deps := Deps{SQS: &fakeSQS{}, DynamoDB: fakeDDB{}, Store: fakeStore{}, Keys: keys}
	for _, tc := range []struct {
		name string
		mod  func(*Config, *Deps)
		want string
	}{
		{"no queue", func(c *Config, _ *Deps) { c.QueueURL = "" }, "no queue URL"},
		{"no table", func(c *Config, _ *Deps) { c.OrdersTable = "" }, "no orders table"},
		{"no site", func(c *Config, _ *Deps) { c.Site = "" }, "no site name"},
		{"no store", func(_ *Config, d *Deps) { d.Store = nil }, "required"},
		{"no keys", func(_ *Config, d *Deps) { d.Keys = nil }, "Keys"},
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

// The recovery pass settles, at start, the rows a crash left in the site
// database, without their messages: a PREPARED row is claimed and handled,
// a HANDLED one only settled; the Handler runs once, for the PREPARED row.
func TestRecoveryPassAtStart(t *testing.T) {
	var mu sync.Mutex
	var settled []string
	var runs int
	served := false
	st := fakeStore{
		pending: func(time.Time) []orderstore.Order {
			mu.Lock()
			defer mu.Unlock()
			if served {
				return nil
			}
			served = true
			env := func(id string) orders.Envelope {
				return orders.Envelope{Version: 1, OrderID: id, Region: "eu-west-1", Owner: "sub", CreatedAt: time.Unix(1, 0).UTC(),
					Order: orders.Order{Items: []orders.Item{{SKU: "A", Quantity: 1}}}}
			}
			return []orderstore.Order{
				{Envelope: env("crashed-prepared"), State: orderstore.StatePrepared, Token: "claim-p"},
				{Envelope: env("crashed-handled"), State: orderstore.StateHandled, Token: "claim-h"},
			}
		},
		handle: func(_ context.Context, id string) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			if id == "crashed-prepared" {
				runs++
				return true, nil
			}
			return false, nil
		},
		prepare: func(_ context.Context, env orders.Envelope) (orderstore.Order, error) {
			return orderstore.Order{Envelope: env, State: orderstore.StateHandled, Token: "claim-h"}, nil
		},
	}
	ddb := fakeDDB{update: func(in *dynamodb.UpdateItemInput) error {
		if !claimWrite(in) {
			mu.Lock()
			settled = append(settled, in.Key[ordertable.AttrPK].(*ddbtypes.AttributeValueMemberS).Value)
			mu.Unlock()
		}
		return nil
	}}
	q := &fakeSQS{}
	p := newP(t, q, ddb, st, nil, nil)
	if err := runUntil(t, p, func() bool { return p.Stats().Recovered == 2 }); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(settled)
	if fmt.Sprint(settled) != "[ORDER#crashed-handled ORDER#crashed-prepared]" || runs != 1 {
		t.Fatalf("settled %v, handler runs %d; want both settled, one run", settled, runs)
	}
	if s := p.Stats(); s.Recovered != 2 || s.Inserted != 1 || s.Processed != 0 {
		t.Fatalf("stats = %+v", s)
	}
}
