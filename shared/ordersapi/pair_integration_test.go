package ordersapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/shared/ddbattr"
	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
	"github.com/homeregion/homeregion/shared/zonepair"
)

// pairLink is the HTTP client of one region's SDK clients in the pair
// tests: it counts the AWS calls by operation, refuses what an MRSC table
// refuses (Transact*, UpdateTimeToLive: the test fails), and can take the
// region down right after a given operation reached the server: that call
// is applied and its answer lost, every later one fails.
type pairLink struct {
	t  *testing.T
	hc aws.HTTPClient

	mu        sync.Mutex
	ops       []string
	downAfter string // "": never
	down      bool
}

var errRegionDown = errors.New("connection reset: the region is isolated")

func (l *pairLink) Do(r *http.Request) (*http.Response, error) {
	_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	l.mu.Lock()
	down := l.down
	if !down {
		l.ops = append(l.ops, op)
	}
	l.mu.Unlock()
	if strings.HasPrefix(op, "Transact") || op == "UpdateTimeToLive" {
		l.t.Errorf("%s on the pair table: an MRSC table refuses it", op)
		return nil, errors.New("ValidationException: not supported by a multi-Region strongly consistent table")
	}
	if down {
		return nil, errRegionDown
	}
	resp, err := l.hc.Do(r)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.downAfter != "" && op == l.downAfter {
		l.down = true
		if err == nil {
			resp.Body.Close()
		}
		return nil, errRegionDown
	}
	return resp, err
}

// take returns and clears the calls logged so far.
func (l *pairLink) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.Join(l.ops, " ")
	l.ops = nil
	return s
}

// pairRegion is one region of the pair in moto: its handler, its queue and
// its link.
type pairRegion struct {
	h     *Handler
	link  *pairLink
	sqs   *sqs.Client
	queue string
	clock *time.Duration // added to the wall clock
}

// newPairRegion builds region's orders API in the pair with partner: the
// pair table (in moto's tableRegion, as an MRSC table is one table to every
// replica), region's own queue, the real SDK clients through a pairLink.
// dbURL, when set, is the endpoint of the table's calls (mototest's
// AtomicURL, for tests that race conditional writes).
func newPairRegion(t *testing.T, srv *mototest.Server, region, partner, tableRegion, table, dbURL string) *pairRegion {
	t.Helper()
	link := &pairLink{t: t, hc: http.DefaultClient}
	dbCfg, qCfg := srv.Config(tableRegion), srv.Config(region)
	if dbURL != "" {
		dbCfg.BaseEndpoint = aws.String(dbURL)
	}
	dbCfg.HTTPClient, qCfg.HTTPClient = link, link
	dbCfg.RetryMaxAttempts, qCfg.RetryMaxAttempts = 1, 1 // a lost answer stays lost
	r := &pairRegion{link: link, sqs: sqs.NewFromConfig(srv.Config(region)), clock: new(time.Duration)}
	r.queue = mototest.CreateQueue(t, r.sqs, "OrdersQueue", strings.Replace(table, "pair", "orders-"+region, 1),
		map[string]any{"ReceiveMessageWaitTimeSeconds": 0})
	pair, err := zonepair.FromEnv(func(string) string { return partner }, region)
	if err != nil || !pair.Paired() {
		t.Fatalf("pair %s-%s: %+v %v", region, partner, pair, err)
	}
	h, err := NewForPair(pair, testKey(), NewPairStore(dynamodb.NewFromConfig(dbCfg), table), NewSQSQueue(sqs.NewFromConfig(qCfg), r.queue), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	h.Now = func() time.Time { return time.Now().Add(*r.clock) }
	r.h = h
	return r
}

func (r *pairRegion) post(t *testing.T, key, home string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	return invoke(t, context.Background(), r.h, postReq(validBody, withHeader("idempotency-key", key),
		withClaims(map[string]string{"sub": testOwner, "custom:region": home, "token_use": "id"})))
}

// messages receives every message in the region's queue.
func (r *pairRegion) messages(t *testing.T) []orders.Envelope {
	t.Helper()
	var all []orders.Envelope
	for {
		out, err := r.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.queue), MaxNumberOfMessages: 10, VisibilityTimeout: 300})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if len(out.Messages) == 0 {
			return all
		}
		for _, m := range out.Messages {
			all = append(all, openBody(t, aws.ToString(m.Body)))
		}
	}
}

// pairItems scans the pair table for the partition keys with prefix.
func pairItems(t *testing.T, db *dynamodb.Client, table, prefix string) []string {
	t.Helper()
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	var keys []string
	for _, it := range out.Items {
		if k := ddbattr.NewReader(it).S(ordertable.AttrPK); strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	return keys
}

// TestIntegrationPairLostAnswer: a eu-west-1 user's POST at eu-west-1 is
// written, then eu-west-1 is cut off (the write's answer and the API's are
// lost); the retry with the same key at eu-central-1 (PAIR_REGION
// eu-west-1, the same table) meets the one record: 409 while the lease
// lives, then 202 with the same order id, sent to eu-central-1's queue, one
// order item. A site claims and settles it on that item; both regions read
// it; the erasure worker's owner index finds it. A us-east-1 user is
// refused by both. No call is a transaction (pairLink fails the test).
func TestIntegrationPairLostAnswer(t *testing.T) {
	srv := mototest.Require(t)
	db := dynamodb.NewFromConfig(srv.Config("eu-west-1"))
	table := "pair-" + strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "")
	mototest.CreateTable(t, db, "OrdersTable", table)
	west := newPairRegion(t, srv, "eu-west-1", "eu-central-1", "eu-west-1", table, "")
	central := newPairRegion(t, srv, "eu-central-1", "eu-west-1", "eu-west-1", table, "")
	ctx := context.Background()

	// eu-west-1 writes the order, then is cut off.
	west.link.downAfter = "PutItem"
	lost := west.post(t, "lost-1", "eu-west-1")
	if lost.StatusCode == 202 {
		t.Fatalf("eu-west-1 answered 202 after it was cut off: %s", lost.Body)
	}
	if got := west.link.take(); got != "GetItem PutItem" {
		t.Fatalf("eu-west-1's calls %q, want the erasure read and the write", got)
	}
	want := ordertable.KeyOrderID(ordertable.IdemKey(testOwner, "lost-1"))
	if keys := pairItems(t, db, table, "ORDER#"); len(keys) != 1 || keys[0] != ordertable.OrderKey(want) {
		t.Fatalf("order items after the lost answer %v, want the key's", keys)
	}

	// Retried at eu-central-1 while eu-west-1's lease lives: 409.
	lostAt := time.Now()
	if resp := central.post(t, "lost-1", "eu-west-1"); resp.StatusCode != 409 {
		t.Fatalf("retry within the lease: %d %s, want 409", resp.StatusCode, resp.Body)
	}
	// Once the lease has passed (the clock, not a sleep): the same order.
	*central.clock = DefaultLease + time.Second
	resp := central.post(t, "lost-1", "eu-west-1")
	if id := orderID(t, resp); id != want {
		t.Fatalf("retry at eu-central-1: order %s, want %s", id, want)
	}
	var b acceptedBody
	if json.Unmarshal([]byte(resp.Body), &b); b.Region != "eu-central-1" {
		t.Errorf("202 names %q, want the serving region eu-central-1", b.Region)
	}
	t.Logf("lost answer -> retry's 202: one lease (%s) by the handlers' clock, %s of work", DefaultLease, time.Since(lostAt).Round(time.Millisecond))
	if keys := pairItems(t, db, table, "ORDER#"); len(keys) != 1 {
		t.Fatalf("order items %v, want 1", keys)
	}
	if keys := pairItems(t, db, table, "IDEM#"); len(keys) != 0 {
		t.Fatalf("idempotency items %v in the pair table", keys)
	}
	msgs := central.messages(t)
	if len(msgs) != 1 || msgs[0].OrderID != want || msgs[0].Region != "eu-central-1" || msgs[0].Owner != testOwner {
		t.Fatalf("eu-central-1's queue: %+v, want order %s from eu-central-1", msgs, want)
	}
	if w := west.messages(t); len(w) != 0 {
		t.Fatalf("eu-west-1's queue has %d messages; it was cut off before sending", len(w))
	}

	// The site's claim and settle work on the record the API wrote.
	now := time.Now()
	if res, err := ordertable.Claim(ctx, db, table, want, "site-token", "db-1", now); err != nil || !res.Won {
		t.Fatalf("Claim = %+v, %v; want won", res, err)
	}
	if err := ordertable.Settle(ctx, db, table, want, orders.StatusCompleted, "site-token", now); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	west.link.mu.Lock()
	west.link.down, west.link.downAfter = false, ""
	west.link.mu.Unlock()
	for _, r := range []*pairRegion{west, central} {
		g := invoke(t, ctx, r.h, getReq(want, withClaims(map[string]string{"sub": testOwner, "custom:region": "eu-west-1"})))
		if g.StatusCode != 200 || !strings.Contains(g.Body, `"status":"COMPLETED"`) {
			t.Errorf("GET at %s: %d %s", r.h.region, g.StatusCode, g.Body)
		}
		// A replay after completion: 202, the same order, nothing sent.
		if id := orderID(t, r.post(t, "lost-1", "eu-west-1")); id != want {
			t.Errorf("replay at %s: %s", r.h.region, id)
		}
	}
	if len(central.messages(t)) != 0 || len(west.messages(t)) != 0 {
		t.Error("a replay sent a message")
	}
	// The erasure worker finds the order through the owner index.
	if keys, err := ordertable.OwnerItems(ctx, db, table, testOwner, 0); err != nil || len(keys) != 1 || keys[0] != ordertable.OrderKey(want) {
		t.Errorf("OwnerItems = %v, %v; want [%s]", keys, err, ordertable.OrderKey(want))
	}

	// Erased, the record keeps nothing of the owner or the order's content:
	// no owner, no request hash; the key's replay is refused.
	if err := ordertable.EraseOrder(ctx, db, table, want, testOwner, "erasure-1", now, now.Add(time.Hour)); err != nil {
		t.Fatalf("EraseOrder: %v", err)
	}
	item, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: ddbattr.Key(ordertable.AttrPK, ordertable.OrderKey(want)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{ordertable.AttrOwner, ordertable.AttrRequestHash, ordertable.AttrCreatedAt} {
		if _, ok := item.Item[a]; ok {
			t.Errorf("the tombstone keeps %s", a)
		}
	}
	if r := central.post(t, "lost-1", "eu-west-1"); r.StatusCode != 403 {
		t.Errorf("replay of an erased order's key: %d %s, want 403", r.StatusCode, r.Body)
	}

	// A us-east-1 user is refused by both, before any AWS call.
	west.link.take()
	central.link.take()
	for _, r := range []*pairRegion{west, central} {
		resp := r.post(t, "us-1", "us-east-1")
		var e errorShape
		if resp.StatusCode != 403 || json.Unmarshal([]byte(resp.Body), &e) != nil || e.Error.Code != "WRONG_REGION" || e.Error.HomeRegion != "us-east-1" {
			t.Errorf("us-east-1 user at %s: %d %s, want 403 WRONG_REGION", r.h.region, resp.StatusCode, resp.Body)
		}
		if got := r.link.take(); got != "" {
			t.Errorf("refusing at %s made calls %q", r.h.region, got)
		}
	}
}

// TestIntegrationPairCalls counts the AWS calls a paired POST makes with
// the real SDK clients (no timing): a new order 4 (GetItem of the erasure
// record, PutItem, SendMessage, UpdateItem), in either region for either
// region's user; a replay 2 (GetItem, PutItem failing its condition).
func TestIntegrationPairCalls(t *testing.T) {
	srv := mototest.Require(t)
	db := dynamodb.NewFromConfig(srv.Config("eu-west-1"))
	table := "pair-" + strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "") + "c"
	mototest.CreateTable(t, db, "OrdersTable", table)
	west := newPairRegion(t, srv, "eu-west-1", "eu-central-1", "eu-west-1", table, "")
	central := newPairRegion(t, srv, "eu-central-1", "eu-west-1", "eu-west-1", table, "")
	tests := []struct {
		name   string
		r      *pairRegion
		key    string
		home   string
		status int
		calls  string
	}{
		{"new order, own region", west, "c-1", "eu-west-1", 202, "GetItem PutItem SendMessage UpdateItem"},
		{"new order, partner's user", central, "c-2", "eu-west-1", 202, "GetItem PutItem SendMessage UpdateItem"},
		{"replay at the partner", central, "c-1", "eu-west-1", 202, "GetItem PutItem"},
		{"replay at home", west, "c-2", "eu-west-1", 202, "GetItem PutItem"},
		{"eu-central-1 user at eu-west-1", west, "c-3", "eu-central-1", 202, "GetItem PutItem SendMessage UpdateItem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.link.take()
			resp := tt.r.post(t, tt.key, tt.home)
			if got := tt.r.link.take(); resp.StatusCode != tt.status || got != tt.calls {
				t.Fatalf("%d, calls %q; want %d, %q", resp.StatusCode, got, tt.status, tt.calls)
			}
		})
	}
	t.Logf("AWS calls per new order in a pair: %d", len(strings.Fields(tests[0].calls)))
}

// TestIntegrationPairConcurrentKey: the same key posted at once in both
// regions (moto's writes made atomic, as DynamoDB's are) yields one order:
// every 202 names the key's id, the table holds one ORDER# item, and one
// message was sent in all.
func TestIntegrationPairConcurrentKey(t *testing.T) {
	srv := mototest.Require(t)
	atomic := srv.AtomicURL(t)
	db := dynamodb.NewFromConfig(srv.Config("eu-west-1"))
	table := "pair-" + strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "") + "r"
	mototest.CreateTable(t, db, "OrdersTable", table)
	west := newPairRegion(t, srv, "eu-west-1", "eu-central-1", "eu-west-1", table, atomic)
	central := newPairRegion(t, srv, "eu-central-1", "eu-west-1", "eu-west-1", table, atomic)
	want := ordertable.KeyOrderID(ordertable.IdemKey(testOwner, "race-1"))
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	bodies := make([]string, 8)
	for i := range statuses {
		r := west
		if i%2 == 1 {
			r = central
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := r.h.Handle(context.Background(), postReq(validBody, withHeader("idempotency-key", "race-1"),
				withClaims(map[string]string{"sub": testOwner, "custom:region": "eu-west-1", "token_use": "id"})))
			statuses[i], bodies[i] = resp.StatusCode, resp.Body
		}()
	}
	wg.Wait()
	accepted := 0
	for i, st := range statuses {
		switch {
		case st == 202 && strings.Contains(bodies[i], want):
			accepted++
		case st == 409:
		default:
			t.Errorf("attempt %d: %d %s", i, st, bodies[i])
		}
	}
	if accepted == 0 {
		t.Error("no attempt was accepted")
	}
	if keys := pairItems(t, db, table, "ORDER#"); len(keys) != 1 || keys[0] != ordertable.OrderKey(want) {
		t.Errorf("order items %v, want [%s]", keys, ordertable.OrderKey(want))
	}
	if n := len(west.messages(t)) + len(central.messages(t)); n != 1 {
		t.Errorf("%d messages in both queues, want 1", n)
	}
}
