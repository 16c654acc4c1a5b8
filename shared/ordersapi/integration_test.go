package ordersapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/shared/lease"
	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
)

func TestMain(m *testing.M) { mototest.Main(m) }

var nameSeq atomic.Int64

// env is one test's orders table and queue in moto.
type env struct {
	t     *testing.T
	cfg   aws.Config
	db    *dynamodb.Client
	sqs   *sqs.Client
	table string
	queue string // URL
	qname string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := mototest.Require(t)
	cfg := srv.Config(testRegion)
	e := &env{t: t, cfg: cfg, db: dynamodb.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg)}
	id := fmt.Sprintf("%d-%d", time.Now().UnixNano(), nameSeq.Add(1))
	e.table, e.qname = "orders-"+id, "orders-"+id
	mototest.CreateTable(t, e.db, "OrdersTable", e.table)
	e.createQueue()
	return e
}

// createQueue creates the orders queue as the template declares it (FIFO).
func (e *env) createQueue() {
	e.queue = mototest.CreateQueue(e.t, e.sqs, "OrdersQueue", e.qname, map[string]any{"ReceiveMessageWaitTimeSeconds": 0})
}

func (e *env) handler(now func() time.Time) *Handler {
	return e.handlerOver(NewDynamoStore(e.db, e.table), NewSQSQueue(e.sqs, e.queue), now)
}

func (e *env) handlerOver(st Store, q Queue, now func() time.Time) *Handler {
	h, err := New(testRegion, testKey(), st, q, logging.Discard())
	if err != nil {
		e.t.Fatal(err)
	}
	h.Now = now
	return h
}

// drain receives every message in the queue.
func (e *env) drain() []sqstypes.Message {
	e.t.Helper()
	var all []sqstypes.Message
	for {
		out, err := e.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(e.queue), MaxNumberOfMessages: 10, VisibilityTimeout: 300,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAWSTraceHeader},
		})
		if err != nil {
			e.t.Fatalf("receive: %v", err)
		}
		if len(out.Messages) == 0 {
			return all
		}
		all = append(all, out.Messages...)
	}
}

// invoke runs the handler through aws-lambda-go's JSON path, as the runtime
// and the local stack do.
func invoke(t *testing.T, ctx context.Context, h *Handler, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	in, _ := json.Marshal(req)
	out, err := lambda.NewHandler(h.Handle).Invoke(ctx, in)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response: %v", err)
	}
	return resp
}

func orderID(t *testing.T, resp events.APIGatewayV2HTTPResponse) string {
	t.Helper()
	if resp.StatusCode != 202 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	var b acceptedBody
	if err := json.Unmarshal([]byte(resp.Body), &b); err != nil || b.OrderID == "" {
		t.Fatalf("body %s: %v", resp.Body, err)
	}
	return b.OrderID
}

func TestIntegrationAcceptReplayConflict(t *testing.T) {
	e := newEnv(t)
	h := e.handler(nil)
	trace := "Root=1-67891233-abcdef012345678912345678;Parent=463ac35c9f6413ad;Sampled=1"
	//lint:ignore SA1029 aws-lambda-go stores the trace header under this string key
	ctx := context.WithValue(context.Background(), "x-amzn-trace-id", trace)

	id := orderID(t, invoke(t, ctx, h, postReq(validBody)))
	msgs := e.drain()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if a := m.MessageAttributes[orders.MessageAttrOrderID]; aws.ToString(a.StringValue) != id || aws.ToString(a.DataType) != "String" {
		t.Fatalf("orderId attribute %+v", a)
	}
	if got := m.Attributes[string(sqstypes.MessageSystemAttributeNameAWSTraceHeader)]; got != trace {
		t.Fatalf("AWSTraceHeader %q", got)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &raw); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	if len(raw) != 6 || raw["version"] == nil || raw["orderId"] == nil || raw["region"] == nil || raw["owner"] == nil || raw["createdAt"] == nil || raw["sealed"] == nil {
		t.Fatalf("envelope keys %v", keys)
	}
	envl := openBody(t, aws.ToString(m.Body))
	want, _ := orders.DecodeOrder([]byte(validBody))
	if envl.Version != orders.SealedVersion || envl.OrderID != id || envl.Region != testRegion || envl.Owner != testOwner ||
		time.Since(envl.CreatedAt) > time.Minute || mustJSON(t, envl.Order) != mustJSON(t, want) {
		t.Fatalf("envelope %s", aws.ToString(m.Body))
	}

	t.Run("replay", func(t *testing.T) {
		resp := invoke(t, ctx, h, postReq(validBody))
		if got := orderID(t, resp); got != id || resp.Headers["Location"] != "/orders/"+id {
			t.Fatalf("replay gave %s (%v), want %s", got, resp.Headers, id)
		}
		if n := len(e.drain()); n != 0 {
			t.Fatalf("replay sent %d messages", n)
		}
	})
	t.Run("same key other body", func(t *testing.T) {
		other := strings.Replace(validBody, `"quantity":2`, `"quantity":3`, 1)
		checkError(t, invoke(t, ctx, h, postReq(other)), 422, "IDEMPOTENCY_KEY_REUSED")
		if n := len(e.drain()); n != 0 {
			t.Fatalf("sent %d messages", n)
		}
	})
	t.Run("same key other user", func(t *testing.T) {
		req := postReq(validBody, withClaims(map[string]string{"sub": "other-user", "custom:region": testRegion}))
		if got := orderID(t, invoke(t, ctx, h, req)); got == id {
			t.Fatal("another user's key collided")
		}
		if n := len(e.drain()); n != 1 {
			t.Fatalf("sent %d messages", n)
		}
	})
	t.Run("GET", func(t *testing.T) {
		resp := invoke(t, ctx, h, getReq(id))
		var b statusBody
		if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &b) != nil || b.OrderID != id || b.Status != orders.StatusAccepted || b.CreatedAt == "" || b.UpdatedAt == "" {
			t.Fatalf("owner GET: %d %s", resp.StatusCode, resp.Body)
		}
		// The processor completes it with the shared helper; GET shows it.
		if err := ordertable.Settle(ctx, e.db, e.table, id, orders.StatusCompleted, "", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp = invoke(t, ctx, h, getReq(id))
		if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"status":"COMPLETED"`) {
			t.Fatalf("after Settle: %d %s", resp.StatusCode, resp.Body)
		}
		other := getReq(id, withClaims(map[string]string{"sub": "other-user", "custom:region": testRegion}))
		checkError(t, invoke(t, ctx, h, other), 404, "ORDER_NOT_FOUND")
		checkError(t, invoke(t, ctx, h, getReq("unknownorder")), 404, "ORDER_NOT_FOUND")
	})
	t.Run("GET shows FAILED", func(t *testing.T) {
		// An order the site can never store: the processor fails it with
		// the shared helper; GET shows the terminal status, which nothing
		// moves on from.
		failed := orderID(t, invoke(t, ctx, h, postReq(validBody, withHeader("idempotency-key", "key-failed"))))
		e.drain()
		if err := ordertable.Settle(ctx, e.db, e.table, failed, orders.StatusFailed, "", time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := ordertable.Settle(ctx, e.db, e.table, failed, orders.StatusCompleted, "", time.Now()); !errors.Is(err, ordertable.ErrClaimLost) {
			t.Fatal(err)
		}
		resp := invoke(t, ctx, h, getReq(failed))
		if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"status":"FAILED"`) {
			t.Fatalf("after Settle to FAILED: %d %s", resp.StatusCode, resp.Body)
		}
	})
	t.Run("no PII in the table", func(t *testing.T) {
		out, err := e.db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(e.table)})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			b, _ := json.Marshal(it)
			for _, pii := range []string{"Ada", "Main St", "Dublin", "D01", "key-1"} {
				if strings.Contains(string(b), pii) {
					t.Fatalf("table item holds %q: %s", pii, b)
				}
			}
		}
	})
}

// serialDB makes moto's conditional writes atomic: moto_server serves
// requests on threads and evaluates a condition and applies the write
// without a lock, so two concurrent conditional puts can both succeed
// there (observed: 2 winners out of 20 under load), which DynamoDB never
// allows. Writes are serialized client-side; the handlers, the SDK clients
// and the HTTP calls stay concurrent.
type serialDB struct {
	mu sync.Mutex
	DynamoDBAPI
}

func (d *serialDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.DynamoDBAPI.TransactWriteItems(ctx, in, optFns...)
}

func (d *serialDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.DynamoDBAPI.PutItem(ctx, in, optFns...)
}

func (d *serialDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.DynamoDBAPI.UpdateItem(ctx, in, optFns...)
}

func TestIntegrationConcurrentSameKey(t *testing.T) {
	e := newEnv(t)
	h := e.handlerOver(NewDynamoStore(&serialDB{DynamoDBAPI: e.db}, e.table), NewSQSQueue(e.sqs, e.queue), nil)
	const n = 20
	resps := make([]events.APIGatewayV2HTTPResponse, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resps[i], _ = h.Handle(context.Background(), postReq(validBody, withHeader("idempotency-key", "concurrent")))
		}()
	}
	close(start)
	wg.Wait()
	ids := map[string]bool{}
	var accepted, conflicts int
	for _, r := range resps {
		switch r.StatusCode {
		case 202:
			accepted++
			ids[orderID(t, r)] = true
		case 409:
			conflicts++
			checkError(t, r, 409, "REQUEST_IN_PROGRESS")
		default:
			t.Fatalf("status %d: %s", r.StatusCode, r.Body)
		}
	}
	if accepted == 0 || len(ids) != 1 {
		t.Fatalf("%d accepted with ids %v, %d conflicts", accepted, ids, conflicts)
	}
	if msgs := e.drain(); len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	t.Logf("%d accepted, %d conflicts", accepted, conflicts)
}

func TestIntegrationQueueFailure(t *testing.T) {
	t.Run("queue deleted", func(t *testing.T) {
		e := newEnv(t)
		h := e.handler(nil)
		if _, err := e.sqs.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(e.queue)}); err != nil {
			t.Fatal(err)
		}
		resp := invoke(t, context.Background(), h, postReq(validBody))
		checkError(t, resp, 503, "SERVICE_UNAVAILABLE")
		if resp.Headers["Retry-After"] == "" || strings.Contains(resp.Body, "Queue") || strings.Contains(resp.Body, "AWS") {
			t.Fatalf("503 response %v %s", resp.Headers, resp.Body)
		}
		e.createQueue() // recovery
		id := orderID(t, invoke(t, context.Background(), h, postReq(validBody)))
		orderID(t, invoke(t, context.Background(), h, postReq(validBody))) // and a replay
		msgs := e.drain()
		if len(msgs) != 1 || aws.ToString(msgs[0].MessageAttributes[orders.MessageAttrOrderID].StringValue) != id {
			t.Fatalf("%d messages, want 1 for %s", len(msgs), id)
		}
	})
	t.Run("endpoint refusing", func(t *testing.T) {
		e := newEnv(t)
		port, err := mototest.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		dead := sqs.NewFromConfig(e.cfg, func(o *sqs.Options) {
			o.BaseEndpoint = aws.String(fmt.Sprintf("http://127.0.0.1:%d", port))
			o.RetryMaxAttempts = 1
		})
		down := e.handlerOver(NewDynamoStore(e.db, e.table), NewSQSQueue(dead, e.queue), nil)
		resp := invoke(t, context.Background(), down, postReq(validBody))
		checkError(t, resp, 503, "SERVICE_UNAVAILABLE")
		if resp.Headers["Retry-After"] == "" {
			t.Fatal("no Retry-After")
		}
		up := e.handler(nil)
		id := orderID(t, invoke(t, context.Background(), up, postReq(validBody)))
		orderID(t, invoke(t, context.Background(), up, postReq(validBody)))
		msgs := e.drain()
		if len(msgs) != 1 || aws.ToString(msgs[0].MessageAttributes[orders.MessageAttrOrderID].StringValue) != id {
			t.Fatalf("%d messages, want 1 for %s", len(msgs), id)
		}
	})
}

// A crashed invocation leaves the order record and sends nothing: any later
// replay sends the same order (id, createdAt) once, and a replay after that
// is dropped by the queue's deduplication.
func TestIntegrationCrashBeforeSend(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now().UTC()
	o, _ := orders.DecodeOrder([]byte(validBody))
	hash, _ := requestHash("key-1", o)
	key := ordertable.IdemKey(testOwner, "key-1")
	rec := IdemRecord{Key: key, Owner: testOwner, RequestHash: hash, OrderID: ordertable.KeyOrderID(key), State: IdemInFlight,
		Token: "dead", LeaseUntil: now.Add(DefaultLease), CreatedAt: now.Add(-time.Hour)}
	if err := NewDynamoStore(e.db, e.table).Begin(ctx, rec, OrderRecord{ID: rec.OrderID, Owner: testOwner, Status: orders.StatusAccepted,
		CreatedAt: rec.CreatedAt, UpdatedAt: rec.CreatedAt}); err != nil {
		t.Fatal(err)
	}
	// At once (no lease to wait for) and again: one message.
	for range 2 {
		if id := orderID(t, invoke(t, ctx, e.handler(nil), postReq(validBody))); id != rec.OrderID {
			t.Fatalf("order id %s, want %s", id, rec.OrderID)
		}
	}
	msgs := e.drain()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	if env := openBody(t, aws.ToString(msgs[0].Body)); env.OrderID != rec.OrderID || !env.CreatedAt.Equal(rec.CreatedAt) {
		t.Fatalf("re-sent envelope %s at %v, want %s at %v", env.OrderID, env.CreatedAt, rec.OrderID, rec.CreatedAt)
	}
}

// legacyBegin writes what an earlier release's POST /orders wrote: an
// in-flight IDEM# record with a random order id and that order's record.
func legacyBegin(t *testing.T, e *env, rec IdemRecord) {
	t.Helper()
	err := lease.New(e.db, e.table, ordertable.IdemLayout).AcquireWith(context.Background(), lease.Claim{
		Key: rec.Key, Token: rec.Token, LeaseUntil: rec.LeaseUntil, ExpiresAt: rec.ExpiresAt,
		Attrs: ordertable.Idem{Owner: rec.Owner, RequestHash: rec.RequestHash, OrderID: rec.OrderID, CreatedAt: rec.CreatedAt}.Attrs(),
	}, rec.CreatedAt, ordertable.Create(e.table, ordertable.Order{ID: rec.OrderID, Owner: rec.Owner, Status: orders.StatusAccepted,
		CreatedAt: rec.CreatedAt, UpdatedAt: rec.CreatedAt}))
	if err != nil {
		t.Fatal(err)
	}
}

// A key replayed across the upgrade meets the order an earlier release
// created for it (a legacy IDEM# record, random order id): in flight, 409
// until its lease passes, then taken over and sent once with that id;
// completed, replayed; past its 24-hour TTL, the key is new.
func TestIntegrationLegacyIdempotencyRecord(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	store := NewDynamoStore(e.db, e.table)
	now := time.Now().UTC()
	o, _ := orders.DecodeOrder([]byte(validBody))
	hash, _ := requestHash("key-1", o)
	rec := IdemRecord{Key: ordertable.IdemKey(testOwner, "key-1"), Owner: testOwner, RequestHash: hash, OrderID: "crashedorder", State: IdemInFlight,
		Token: "dead", LeaseUntil: now.Add(DefaultLease), CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	legacyBegin(t, e, rec)
	checkError(t, invoke(t, ctx, e.handler(nil), postReq(validBody)), 409, "REQUEST_IN_PROGRESS")

	later := func() time.Time { return now.Add(DefaultLease + time.Second) }
	if id := orderID(t, invoke(t, ctx, e.handler(later), postReq(validBody))); id != "crashedorder" {
		t.Fatalf("order id %s", id)
	}
	if id := orderID(t, invoke(t, ctx, e.handler(later), postReq(validBody))); id != "crashedorder" {
		t.Fatalf("replay: order id %s", id)
	}
	if msgs := e.drain(); len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	checkError(t, invoke(t, ctx, e.handler(later), postReq(strings.Replace(validBody, `"quantity":2`, `"quantity":3`, 1))), 422, "IDEMPOTENCY_KEY_REUSED")

	// Past the legacy record's TTL (DynamoDB deletes lazily) the key
	// creates its derived-id order.
	muchLater := func() time.Time { return now.Add(25 * time.Hour) }
	if id := orderID(t, invoke(t, ctx, e.handler(muchLater), postReq(validBody))); id != ordertable.KeyOrderID(rec.Key) {
		t.Fatalf("expired legacy key: order id %s, want the derived one", id)
	}
	if msgs := e.drain(); len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	// The adapter's claim checks: a stale token cannot complete or release.
	if err := store.Complete(ctx, rec.Key, "dead"); err == nil {
		t.Fatal("Complete with a stale token succeeded")
	}
}

// lostAnswerQueue is a Queue whose sends reach SQS but whose answers are
// lost: the send "timed out" after SQS accepted it.
type lostAnswerQueue struct{ Queue }

func (q lostAnswerQueue) Send(ctx context.Context, m Message) error {
	if err := q.Queue.Send(ctx, m); err != nil {
		return err
	}
	return fmt.Errorf("%w: send message: context deadline exceeded (the answer was lost)", ErrUnavailable)
}

// A send that timed out but succeeded: the client gets 503, retries with
// the same key, gets 202 with the same order id, and the queue holds one
// message: the retry's copy carries the same deduplication id.
func TestIntegrationSendTimedOutButSucceeded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	lost := e.handlerOver(NewDynamoStore(e.db, e.table), lostAnswerQueue{NewSQSQueue(e.sqs, e.queue)}, nil)
	checkError(t, invoke(t, ctx, lost, postReq(validBody)), 503, "SERVICE_UNAVAILABLE")
	id := orderID(t, invoke(t, ctx, e.handler(nil), postReq(validBody)))
	if id != ordertable.KeyOrderID(ordertable.IdemKey(testOwner, "key-1")) {
		t.Fatalf("order id %s is not the key's", id)
	}
	msgs := e.drain()
	if len(msgs) != 1 || aws.ToString(msgs[0].MessageAttributes[orders.MessageAttrOrderID].StringValue) != id {
		t.Fatalf("%d messages, want 1 of %s", len(msgs), id)
	}
	// Once a site claimed it, a replay sends nothing at all.
	if _, err := ordertable.Claim(ctx, e.db, e.table, id, "site-token", "site-db", time.Now()); err != nil {
		t.Fatal(err)
	}
	cc := &countingClient{hc: http.DefaultClient}
	cfg := e.cfg.Copy()
	cfg.HTTPClient = cc
	counted := e.handlerOver(NewDynamoStore(dynamodb.NewFromConfig(cfg), e.table), NewSQSQueue(sqs.NewFromConfig(cfg), e.queue), nil)
	if got := orderID(t, invoke(t, ctx, counted, postReq(validBody))); got != id || cc.n.Load() != 1 {
		t.Fatalf("replay of a claimed order: %s with %d calls, want %s with 1 (no send)", got, cc.n.Load(), id)
	}
}

// countingClient counts the HTTP requests (AWS round trips) SDK clients make.
type countingClient struct {
	n  atomic.Int64
	hc aws.HTTPClient
}

func (c *countingClient) Do(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.hc.Do(r)
}

// AWS round trips per request with the real SDK clients, warm: a new order
// costs 2 (TransactWriteItems, SendMessage), a replay of an order no site
// has claimed yet 2 (the re-send, which the queue drops), a GET 1; DELETE
// /me 1 (PutItem, repeated too), GET /me/erasure 1 (GetItem), and an order
// once the erasure is requested 1 (the TransactWriteItems whose
// ConditionCheck fails).
func TestIntegrationRoundTrips(t *testing.T) {
	e := newEnv(t)
	cc := &countingClient{hc: http.DefaultClient}
	cfg := e.cfg.Copy()
	cfg.HTTPClient = cc
	h := e.handlerOver(NewDynamoStore(dynamodb.NewFromConfig(cfg), e.table), NewSQSQueue(sqs.NewFromConfig(cfg), e.queue), nil)
	ctx := context.Background()
	tests := []struct {
		name   string
		req    events.APIGatewayV2HTTPRequest
		want   int64
		status int
	}{
		{"new order", postReq(validBody, withHeader("idempotency-key", "rt-1")), 2, 202},
		{"second new order", postReq(validBody, withHeader("idempotency-key", "rt-2")), 2, 202},
		{"replay", postReq(validBody, withHeader("idempotency-key", "rt-1")), 2, 202},
		{"bad request", postReq(`{}`, withHeader("idempotency-key", "rt-3")), 0, 400},
		{"GET /me/erasure, none", meReq("GET"), 1, 404},
		{"DELETE /me", meReq("DELETE"), 1, 202},
		{"DELETE /me again", meReq("DELETE"), 1, 202},
		{"GET /me/erasure", meReq("GET"), 1, 200},
		{"new order after the erasure", postReq(validBody, withHeader("idempotency-key", "rt-4")), 1, 403},
		{"replay after the erasure", postReq(validBody, withHeader("idempotency-key", "rt-1")), 1, 403},
	}
	var id string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := cc.n.Load()
			resp, _ := h.Handle(ctx, tt.req)
			if got := cc.n.Load() - before; got != tt.want || resp.StatusCode != tt.status {
				t.Fatalf("%d round trips, status %d, want %d and %d (%s)", got, resp.StatusCode, tt.want, tt.status, resp.Body)
			}
			if resp.StatusCode == 202 && id == "" {
				id = orderID(t, resp)
			}
		})
	}
	before := cc.n.Load()
	if resp, _ := h.Handle(ctx, getReq(id)); resp.StatusCode != 200 || cc.n.Load()-before != 1 {
		t.Fatalf("GET: status %d, %d round trips", resp.StatusCode, cc.n.Load()-before)
	}
}
