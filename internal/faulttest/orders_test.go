package faulttest

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/internal/faultproxy"
	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordersapi"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/sealed"
)

const orderBody = `{"items":[{"sku":"AB-12","quantity":2}],"deliveryAddress":{"name":"Ada Lovelace","line1":"1 Main St","city":"Berlin","postalCode":"10115","country":"DE"}}`

type ordersEnv struct {
	db    *dynamodb.Client // direct to moto
	q     *sqs.Client      // direct to moto
	table string
	url   string
	key   sealed.PublicKey // the orders API seals to it
	ring  *sealed.Keyring  // the site's keys: opens what is queued
}

func newOrdersEnv(t *testing.T, srv *mototest.Server) *ordersEnv {
	t.Helper()
	cfg := srv.Config(region)
	e := &ordersEnv{db: dynamodb.NewFromConfig(cfg), q: sqs.NewFromConfig(cfg), table: unique("orders")}
	keyFile := filepath.Join(t.TempDir(), "site.key")
	var err error
	if e.key, err = sealed.GenerateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	if e.ring, err = sealed.ReadKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	mototest.CreateTable(t, e.db, "OrdersTable", e.table)
	e.url = mototest.CreateQueue(t, e.q, "OrdersQueue", unique("orders"), map[string]any{"ReceiveMessageWaitTimeSeconds": 0})
	return e
}

// messages returns every order queued so far (version 2 messages, opened
// with the site's keys), received with a visibility timeout of 60 s.
func (e *ordersEnv) messages(t *testing.T) []orders.Envelope {
	t.Helper()
	var all []orders.Envelope
	seen := map[string]bool{}
	for range 20 {
		out, err := e.q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.url), MaxNumberOfMessages: 10, VisibilityTimeout: 60})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			if seen[aws.ToString(m.MessageId)] {
				continue
			}
			seen[aws.ToString(m.MessageId)] = true
			var sm orders.SealedEnvelope
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &sm); err != nil || sm.Version != orders.SealedVersion {
				t.Fatalf("message body is not a version 2 message (version %d): %v", sm.Version, err)
			}
			env, err := e.ring.OpenEnvelope(sm)
			if err != nil {
				t.Fatalf("open message %s: %v", sm.OrderID, err)
			}
			all = append(all, env)
		}
	}
	// make them visible again for a later look
	return all
}

func (e *ordersEnv) queued(t *testing.T) int {
	t.Helper()
	out, err := e.q.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(e.url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible} {
		var v int
		_, _ = fmtSscan(out.Attributes[string(k)], &v)
		n += v
	}
	return n
}

func post(t *testing.T, h *ordersapi.Handler, key string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	req := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: ordersapi.RouteCreate, RawPath: "/orders",
		Headers: map[string]string{"content-type": "application/json", "idempotency-key": key},
		Body:    orderBody,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			Stage: "$default", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/orders"},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
				Claims: map[string]string{"sub": "user-1", "custom:region": region}}},
		},
	}
	in, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := lambda.NewHandler(h.Handle).Invoke(ctx, in)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func acceptedID(t *testing.T, resp events.APIGatewayV2HTTPResponse) string {
	t.Helper()
	var b struct {
		OrderID string `json:"orderId"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &b); err != nil || b.OrderID == "" {
		t.Fatalf("202 body %s: %v", resp.Body, err)
	}
	return b.OrderID
}

// TestOrdersNeverAcceptWithoutMessageNorQueueTwice posts an order through
// each fault, then retries with the same key once the fault is gone, as a
// client that got 5xx must: a 202 always has its message queued, and one key
// ends with exactly one message.
func TestOrdersNeverAcceptWithoutMessageNorQueueTwice(t *testing.T) {
	srv := mototest.Require(t)
	tests := []struct {
		name  string
		op    string
		fault faultproxy.Fault
	}{
		{"no fault", "", faultproxy.Fault{}},
		{"latency 200ms everywhere", "", faultproxy.Fault{Kind: faultproxy.Latency, Delay: 200 * time.Millisecond}},
		{"SendMessage throttled once", "SendMessage", faultproxy.Fault{Kind: faultproxy.Throttle, Times: 1}},
		{"SendMessage throttled always", "SendMessage", faultproxy.Fault{Kind: faultproxy.Throttle, ErrorCode: "RequestThrottled"}},
		{"SendMessage 500 always", "SendMessage", faultproxy.Fault{Kind: faultproxy.Status, Code: 500}},
		{"SendMessage connection reset", "SendMessage", faultproxy.Fault{Kind: faultproxy.Reset}},
		{"SendMessage black hole", "SendMessage", faultproxy.Fault{Kind: faultproxy.BlackHole}},
		{"record write throttled always", "DynamoDB_20120810.TransactWriteItems", faultproxy.Fault{Kind: faultproxy.Throttle, ErrorCode: "ProvisionedThroughputExceededException"}},
		{"all DynamoDB 503", "DynamoDB_20120810.*", faultproxy.Fault{Kind: faultproxy.Status, Code: 503}},
		{"record write response lost", "DynamoDB_20120810.TransactWriteItems", faultproxy.Fault{Kind: faultproxy.LostResponse, Times: 1}},
		{"record write response lost always", "DynamoDB_20120810.TransactWriteItems", faultproxy.Fault{Kind: faultproxy.LostResponse}},
		{"SendMessage response lost once", "SendMessage", faultproxy.Fault{Kind: faultproxy.LostResponse, Times: 1}},
		{"SendMessage response lost always", "SendMessage", faultproxy.Fault{Kind: faultproxy.LostResponse}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newOrdersEnv(t, srv)
			p := proxy(t, srv)
			cfg := via(t, p, awsconfig.Options{})
			h := ordersHandler(t, e.key, ordersapi.NewDynamoStore(dynamodb.NewFromConfig(cfg), e.table),
				ordersapi.NewSQSQueue(sqs.NewFromConfig(cfg), e.url), time.Second)
			if tc.fault.Kind != 0 {
				p.Add(tc.op, tc.fault)
			}
			key := unique("key")
			first := post(t, h, key)
			if acceptedWithoutMessage(t, e, first) {
				t.Fatalf("202 with no message queued (body %s)", first.Body)
			}
			if first.StatusCode != 202 && first.StatusCode < 500 && first.StatusCode != 409 {
				t.Fatalf("first answer %d %s, want 202, 409 or 5xx", first.StatusCode, first.Body)
			}
			p.Clear()
			var final events.APIGatewayV2HTTPResponse
			for attempt := 0; attempt < 6; attempt++ {
				final = post(t, h, key)
				if final.StatusCode != 409 {
					break
				}
				time.Sleep(700 * time.Millisecond) // in flight: wait for the lease
			}
			if final.StatusCode != 202 {
				t.Fatalf("retry with the same key answered %d %s, want 202", final.StatusCode, final.Body)
			}
			id := acceptedID(t, final)
			if first.StatusCode == 202 && acceptedID(t, first) != id {
				t.Fatalf("two order ids for one key: %s, %s", acceptedID(t, first), id)
			}
			msgs := e.messages(t)
			ids := make([]string, len(msgs))
			for i, m := range msgs {
				ids[i] = m.OrderID
			}
			if len(msgs) != 1 || msgs[0].OrderID != id {
				t.Fatalf("queue holds %v, want exactly one message for %s", ids, id)
			}
			t.Logf("first answer %d, retry %d, 1 message", first.StatusCode, final.StatusCode)
		})
	}
}

// TestOrdersLostSendResponse loses SendMessage's response after SQS queued
// the message: the SDK retries the send, and the client retries the
// request. Every copy carries the order id as its deduplication id, so the
// FIFO queue holds the order once, and the site stores it once.
func TestOrdersLostSendResponse(t *testing.T) {
	srv := mototest.Require(t)
	e := newOrdersEnv(t, srv)
	p := proxy(t, srv)
	cfg := via(t, p, awsconfig.Options{})
	h := ordersHandler(t, e.key, ordersapi.NewDynamoStore(dynamodb.NewFromConfig(cfg), e.table),
		ordersapi.NewSQSQueue(sqs.NewFromConfig(cfg), e.url), time.Second)
	p.Add("SendMessage", faultproxy.Fault{Kind: faultproxy.LostResponse, Times: 1})
	key := unique("key")
	var final events.APIGatewayV2HTTPResponse
	for attempt := 0; attempt < 6; attempt++ {
		final = post(t, h, key)
		if final.StatusCode == 202 {
			break
		}
		time.Sleep(700 * time.Millisecond)
	}
	if final.StatusCode != 202 {
		t.Fatalf("answer %d %s", final.StatusCode, final.Body)
	}
	id := acceptedID(t, final)
	msgs := e.messages(t)
	if len(msgs) != 1 || msgs[0].OrderID != id {
		t.Fatalf("%d messages for one key, want exactly 1 of %s", len(msgs), id)
	}
	dsn := orderstoretest.SQLiteDSN(t)
	store, err := orderstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Prepare(context.Background(), msgs[0]); err != nil {
		t.Fatal(err)
	}
	if n, _ := orderstoretest.OpenTable(t, dsn).Count(context.Background()); n != 1 {
		t.Fatalf("%d orders stored, want 1", n)
	}
}

// acceptedWithoutMessage reports the broken promise: a 202 while the queue
// holds nothing.
func acceptedWithoutMessage(t *testing.T, e *ordersEnv, resp events.APIGatewayV2HTTPResponse) bool {
	return resp.StatusCode == 202 && e.queued(t) == 0
}

// skipQueue is a broken Queue that reports success without sending.
type skipQueue struct{}

func (skipQueue) Send(context.Context, ordersapi.Message) error { return nil }

// TestOrdersCheckCatchesSkippedSend proves the check above can fail: a
// handler whose queue silently drops the message answers 202, and
// acceptedWithoutMessage must flag it.
func TestOrdersCheckCatchesSkippedSend(t *testing.T) {
	srv := mototest.Require(t)
	e := newOrdersEnv(t, srv)
	cfg := srv.Config(region)
	h := ordersHandler(t, e.key, ordersapi.NewDynamoStore(dynamodb.NewFromConfig(cfg), e.table), skipQueue{}, 0)
	resp := post(t, h, unique("key"))
	if resp.StatusCode != 202 {
		t.Fatalf("broken handler answered %d, want its (wrong) 202", resp.StatusCode)
	}
	if !acceptedWithoutMessage(t, e, resp) {
		t.Fatal("the check did not catch a 202 without a queued message")
	}
}

// ordersHandler builds the orders API handler through its constructor,
// sealing to key, with lease as its Lease (0: the default).
func ordersHandler(t *testing.T, key sealed.PublicKey, st ordersapi.Store, q ordersapi.Queue, lease time.Duration) *ordersapi.Handler {
	t.Helper()
	h, err := ordersapi.New(region, key, st, q, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	h.Lease = lease
	return h
}
