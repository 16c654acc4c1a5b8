package ordersapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/homeregion/homeregion/internal/logtest"
	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/shared/ddbattr"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
)

// testEmail is in every token of these tests: no log line may carry it.
const testEmail = "ada.lovelace@example.com"

func withEmail(r *events.APIGatewayV2HTTPRequest) {
	r.RequestContext.Authorizer.JWT.Claims["email"] = testEmail
}

// logged returns a logger writing JSON lines, every level, into a new buffer.
func logged() (*slog.Logger, *logtest.Buffer) {
	b := &logtest.Buffer{}
	return b.Logger(), b
}

// checkNoPII fails if a log line holds a user's sub or e-mail address, and
// if none holds each of want (proof that the lines were captured).
func checkNoPII(t *testing.T, log string, want ...string) {
	t.Helper()
	for _, pii := range []string{testOwner, otherOwner, testEmail, "ada.lovelace", "Ada Lovelace"} {
		if strings.Contains(log, pii) {
			t.Errorf("a log line holds %q:\n%s", pii, log)
		}
	}
	for _, w := range want {
		if !strings.Contains(log, w) {
			t.Errorf("no log line holds %q:\n%s", w, log)
		}
	}
}

// erasureOf decodes DELETE /me's 202.
func erasureOf(t *testing.T, resp events.APIGatewayV2HTTPResponse) erasureAccepted {
	t.Helper()
	var b erasureAccepted
	if resp.StatusCode != 202 || json.Unmarshal([]byte(resp.Body), &b) != nil || b.ErasureID == "" || b.Status != ordertable.ErasureAccepted {
		t.Fatalf("DELETE /me: %d %s", resp.StatusCode, resp.Body)
	}
	return b
}

// Ten concurrent DELETE /me of one user: every answer is 202 with the same
// erasure, which GET /me/erasure then shows, and the table holds one
// erasure record.
func TestIntegrationConcurrentErasure(t *testing.T) {
	e := newEnv(t)
	log, logs := logged()
	h, err := New(testRegion, testKey(), NewDynamoStore(&serialDB{DynamoDBAPI: e.db}, e.table), NewSQSQueue(e.sqs, e.queue), log)
	if err != nil {
		t.Fatal(err)
	}
	const n = 10
	resps := make([]events.APIGatewayV2HTTPResponse, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resps[i], _ = h.Handle(context.Background(), meReq("DELETE", withEmail))
		}()
	}
	close(start)
	wg.Wait()
	ids := map[string]bool{}
	for _, r := range resps {
		ids[erasureOf(t, r).ErasureID] = true
	}
	if len(ids) != 1 {
		t.Fatalf("%d erasure ids %v, want 1", len(ids), ids)
	}
	var id string
	for id = range ids {
	}
	resp := invoke(t, context.Background(), h, meReq("GET", withEmail))
	var st erasureStatus
	if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &st) != nil || st.ErasureID != id || st.Status != ordertable.ErasureAccepted {
		t.Fatalf("GET /me/erasure: %d %s", resp.StatusCode, resp.Body)
	}
	if _, err := time.Parse(orders.TimeFormat, st.UpdatedAt); err != nil {
		t.Fatalf("updatedAt %q: %v", st.UpdatedAt, err)
	}
	out, err := e.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(e.table)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 1 || ddbattr.NewReader(out.Items[0]).S(ordertable.AttrPK) != ordertable.ErasureKey(testOwner) ||
		ddbattr.NewReader(out.Items[0]).S(ordertable.AttrVia) != ordertable.ViaUser ||
		ddbattr.NewReader(out.Items[0]).S(ordertable.AttrHome) != testRegion {
		t.Fatalf("table items %v, want the one erasure record, naming the token's home region", out.Items)
	}
	checkNoPII(t, logs.String(), `"erasureId":"`+id+`"`, `"created":true`, `"created":false`)
}

// POST /orders once the erasure is requested: 403 ACCOUNT_ERASED for a new
// key, a replay of a sent key, a key abandoned in flight (which would be
// taken over and sent) and a reused key, and nothing is sent or written:
// the queue holds the messages sent before only. Another user is untouched.
// No log line of it names the user.
func TestIntegrationOrdersAfterErasure(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	log, logs := logged()
	store := NewDynamoStore(e.db, e.table)
	h, err := New(testRegion, testKey(), store, NewSQSQueue(e.sqs, e.queue), log)
	if err != nil {
		t.Fatal(err)
	}

	mine := orderID(t, invoke(t, ctx, h, postReq(validBody, withEmail)))
	theirs := orderID(t, invoke(t, ctx, h, postReq(validBody, asOther)))
	// An invocation that died after Begin: before the erasure a replay
	// would re-send it.
	now := time.Now().UTC()
	o, _ := orders.DecodeOrder([]byte(validBody))
	hash, _ := requestHash("key-dead", o)
	deadKey := ordertable.IdemKey(testOwner, "key-dead")
	dead := IdemRecord{Key: deadKey, Owner: testOwner, RequestHash: hash, OrderID: ordertable.KeyOrderID(deadKey), State: IdemInFlight,
		Token: "dead", LeaseUntil: now.Add(-time.Second), CreatedAt: now.Add(-time.Minute)}
	if err := store.Begin(ctx, dead, OrderRecord{ID: dead.OrderID, Owner: testOwner, Status: orders.StatusAccepted, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	erasure := erasureOf(t, invoke(t, ctx, h, meReq("DELETE", withEmail)))

	other := strings.Replace(validBody, `"quantity":2`, `"quantity":3`, 1)
	for _, tt := range []struct {
		name string
		req  events.APIGatewayV2HTTPRequest
	}{
		{"new key", postReq(validBody, withEmail, withHeader("idempotency-key", "key-new"))},
		{"replay of a sent key", postReq(validBody, withEmail)},
		{"key abandoned in flight", postReq(validBody, withEmail, withHeader("idempotency-key", "key-dead"))},
		{"sent key, other body", postReq(other, withEmail)},
		{"new key, $default route", postReq(validBody, withEmail, withHeader("idempotency-key", "key-new-2"), withRoute("POST", "/orders"))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkError(t, invoke(t, ctx, h, tt.req), 403, "ACCOUNT_ERASED")
		})
	}
	// The erasure stands, as it was; the other user orders as before.
	if got := erasureOf(t, invoke(t, ctx, h, meReq("DELETE", withEmail))); got != erasure {
		t.Fatalf("second DELETE /me %+v, want %+v", got, erasure)
	}
	later := orderID(t, invoke(t, ctx, h, postReq(validBody, asOther, withHeader("idempotency-key", "key-later"))))

	msgs := e.drain()
	var sent []string
	for _, m := range msgs {
		sent = append(sent, aws.ToString(m.MessageAttributes[orders.MessageAttrOrderID].StringValue))
	}
	want := []string{mine, theirs, later}
	slices.Sort(sent)
	slices.Sort(want)
	if !slices.Equal(sent, want) {
		t.Fatalf("queue holds %v, want %v (the erased user's one sent before, and the other user's)", sent, want)
	}
	out, err := e.db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(e.table)})
	if err != nil {
		t.Fatal(err)
	}
	var records []string
	for _, it := range out.Items {
		r := ddbattr.NewReader(it)
		if pk := r.S(ordertable.AttrPK); strings.HasPrefix(pk, "ORDER#") && r.S(ordertable.AttrOwner) == testOwner {
			records = append(records, strings.TrimPrefix(pk, "ORDER#"))
		}
	}
	if len(records) != 2 || !strings.Contains(strings.Join(records, " "), mine) || !strings.Contains(strings.Join(records, " "), dead.OrderID) {
		t.Fatalf("the erased user's order records %v, want %s and %s only", records, mine, dead.OrderID)
	}

	// The worker tombstones the user's orders: GET answers 404 as for an
	// unknown order; the other user's order still shows.
	if err := ordertable.EraseOrder(ctx, e.db, e.table, mine, testOwner, erasure.ErasureID, time.Now(), time.Now().Add(15*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkError(t, invoke(t, ctx, h, getReq(mine, withEmail)), 404, "ORDER_NOT_FOUND")
	if resp := invoke(t, ctx, h, getReq(theirs, asOther)); resp.StatusCode != 200 {
		t.Fatalf("the other user's order: %d %s", resp.StatusCode, resp.Body)
	}

	// A failing DynamoDB logs the error: the SDK's message, no user.
	port, err := mototest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	deadDB := dynamodb.NewFromConfig(e.cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(fmt.Sprintf("http://127.0.0.1:%d", port))
		o.RetryMaxAttempts = 1
	})
	down, err := New(testRegion, testKey(), NewDynamoStore(deadDB, e.table), NewSQSQueue(e.sqs, e.queue), log)
	if err != nil {
		t.Fatal(err)
	}
	checkError(t, invoke(t, ctx, down, meReq("DELETE", withEmail)), 503, "SERVICE_UNAVAILABLE")
	checkError(t, invoke(t, ctx, down, meReq("GET", withEmail)), 503, "SERVICE_UNAVAILABLE")
	checkError(t, invoke(t, ctx, down, postReq(validBody, withEmail)), 503, "SERVICE_UNAVAILABLE")

	checkNoPII(t, logs.String(), `"erasureId":"`+erasure.ErasureID+`"`, `"status":403`, "dependency failed", "connection refused")
}
