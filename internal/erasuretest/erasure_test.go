package erasuretest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/shared/erasure"
	"github.com/homeregion/homeregion/shared/ordersapi"
	"github.com/homeregion/homeregion/shared/ordertable"
	"github.com/homeregion/homeregion/shared/sealed"
)

const home = "eu-west-1"

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// worker is region's erasure worker, built by its function's cold start,
// with the re-send interval and index settle age of a test; runWorker runs
// it every 200 ms until the test ends.
func (s *stack) runWorker(region string) *erasure.Worker {
	s.t.Helper()
	h, err := erasure.Setup(context.Background(), s.env(region, "ErasureFunction", nil), s.log.With("component", region+"/erasure"))
	if err != nil {
		s.t.Fatal(err)
	}
	w := h.Worker()
	w.ResendInterval, w.MaxResendInterval, w.SettleAge = 300*time.Millisecond, time.Second, time.Millisecond
	w.Metrics = s.logs
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
			_, _ = w.Run(rctx)
			rcancel()
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	s.t.Cleanup(func() { cancel(); <-done })
	return w
}

// erasureOf is GET /me/erasure for sub.
func erasureOf(t *testing.T, api *ordersapi.Handler, sub string) (int, map[string]any) {
	t.Helper()
	return call(t, api, request("GET", "/me/erasure", sub, home, nil, ""))
}

// orderStatus is GET /orders/{id}'s status ("" when not 200).
func orderStatus(t *testing.T, api *ordersapi.Handler, sub, id string) string {
	t.Helper()
	code, m := call(t, api, request("GET", "/orders/"+id, sub, home, nil, ""))
	if code != 200 {
		return ""
	}
	return m["status"].(string)
}

// failingQueue is an orders queue that is down: POST /orders answers 503
// after writing the ACCEPTED order record (an order accepted, never sent).
type failingQueue struct{}

func (failingQueue) Send(context.Context, ordersapi.Message) error {
	return fmt.Errorf("%w: queue down", ordersapi.ErrUnavailable)
}

// moveToDLQ moves the queued messages whose body mentions one of subs to
// the dead-letter queue, as five failed receives would, and leaves the
// others in the queue.
func (s *stack) moveToDLQ(subs ...string) int {
	s.t.Helper()
	ctx := context.Background()
	r := s.region(home)
	q := sqs.NewFromConfig(s.cfg(home))
	moved := 0
	for range 10 {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.OrdersQueueURL), MaxNumberOfMessages: 10,
			VisibilityTimeout: 5, MessageAttributeNames: []string{"All"}})
		if err != nil {
			s.t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			match := false
			for _, sub := range subs {
				match = match || strings.Contains(aws.ToString(m.Body), sub)
			}
			if !match {
				_, _ = q.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(r.OrdersQueueURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
				continue
			}
			// The FIFO DLQ's group and deduplication id: the message's own.
			if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(r.OrdersDLQURL), MessageBody: m.Body, MessageAttributes: m.MessageAttributes,
				MessageGroupId: m.MessageId, MessageDeduplicationId: m.MessageId}); err != nil {
				s.t.Fatal(err)
			}
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(r.OrdersQueueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				s.t.Fatal(err)
			}
			moved++
		}
	}
	return moved
}

// poolHas reports whether region's pool has a user with address email.
func (s *stack) poolHas(region, email string) bool {
	s.t.Helper()
	out, err := cip.NewFromConfig(s.cfg(region)).ListUsers(context.Background(), &cip.ListUsersInput{
		UserPoolId: aws.String(s.region(region).UserPoolID), Filter: aws.String(`email = "` + email + `"`)})
	if err != nil {
		s.t.Fatal(err)
	}
	return len(out.Users) > 0
}

// claims returns the home regions of the registry's claims (the registry
// region's replica; a fresh moto holds only the test's users).
func (s *stack) claims() []string {
	s.t.Helper()
	out, err := dynamodb.NewFromConfig(s.cfg(home)).Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(s.region(home).RegistryTable), ConsistentRead: aws.Bool(true)})
	if err != nil {
		s.t.Fatal(err)
	}
	var regions []string
	for _, it := range out.Items {
		regions = append(regions, it["homeRegion"].(*ddbtypes.AttributeValueMemberS).Value)
	}
	return regions
}

// record reads owner's erasure record as stored.
func (s *stack) record(owner string) map[string]ddbtypes.AttributeValue {
	s.t.Helper()
	out, err := dynamodb.NewFromConfig(s.cfg(home)).GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(s.region(home).OrdersTable), Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: ordertable.ErasureKey(owner)}}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		s.t.Fatal(err)
	}
	return out.Item
}

// TestEraseOrdersInEveryStateWithASiteOffline erases a user whose orders
// are completed (stored at both site databases), queued, accepted but never
// sent, and in the dead-letter queue, while one of the region's two site
// databases is offline: the erasure waits for it, completes once it is
// back, and every place is clean; another user's orders, rows and DLQ
// message are untouched, and no log line names either user.
func TestEraseOrdersInEveryStateWithASiteOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: moto_server")
	}
	s := newStack(t, home)
	api := s.api(home)
	xEmail, yEmail := "x-"+randHex(4)+"@example.com", "y-"+randHex(4)+"@example.com"
	x, err := s.user(home, xEmail, "DE")
	if err != nil {
		t.Fatal(err)
	}
	y, err := s.user(home, yEmail, "FR")
	if err != nil {
		t.Fatal(err)
	}
	a, b := s.newSite(home, "site-a"), s.newSite(home, "site-b")
	a.start()
	b.start()

	// Completed: one order each at A and B (posted until both hold one).
	var completed []string
	for i := 0; ; i++ {
		code, m := post(t, api, x, home, "done-"+fmt.Sprint(i))
		if code != 202 {
			t.Fatalf("POST = %d %v", code, m)
		}
		id := m["orderId"].(string)
		completed = append(completed, id)
		waitFor(t, 30*time.Second, "order COMPLETED", func() bool { return orderStatus(t, api, x, id) == "COMPLETED" })
		ra, _ := a.rows(x)
		rb, _ := b.rows(x)
		if len(ra) > 0 && len(rb) > 0 {
			break
		}
		if i == 20 {
			t.Fatalf("20 orders and still not one at each site: A %d, B %d", len(ra), len(rb))
		}
	}
	code, m := post(t, api, y, home, "y-done")
	if code != 202 {
		t.Fatalf("POST y = %d %v", code, m)
	}
	yDone := m["orderId"].(string)
	waitFor(t, 30*time.Second, "y's order COMPLETED", func() bool { return orderStatus(t, api, y, yDone) == "COMPLETED" })

	// The sites go offline; then: queued, in the DLQ (x and y), accepted
	// but never sent (the queue was down).
	a.stop()
	b.stop()
	if code, m := post(t, api, x, home, "queued"); code != 202 {
		t.Fatalf("POST queued = %d %v", code, m)
	}
	if code, m := post(t, api, x, home, "dead"); code != 202 {
		t.Fatalf("POST dead = %d %v", code, m)
	}
	if code, m := post(t, api, y, home, "y-dead"); code != 202 {
		t.Fatalf("POST y-dead = %d %v", code, m)
	}
	if n := s.moveToDLQ(x, y); n != 3 {
		t.Fatalf("moved %d messages to the DLQ, want 3 (x queued is the only one left)", n)
	}
	// Put x's "queued" back (moveToDLQ moved every message of x): post
	// another one.
	if code, m := post(t, api, x, home, "queued-2"); code != 202 {
		t.Fatalf("POST queued-2 = %d %v", code, m)
	}
	down, err := ordersapi.New(home, mustKey(t, s), ordersapi.NewDynamoStore(dynamodb.NewFromConfig(s.cfg(home)), s.region(home).OrdersTable), failingQueue{}, s.log)
	if err != nil {
		t.Fatal(err)
	}
	if code, m := post(t, down, x, home, "never-sent"); code != 503 {
		t.Fatalf("POST with the queue down = %d %v, want 503", code, m)
	}
	if n := len(s.ownerItems(home, x)); n < len(completed)+4 {
		t.Fatalf("x has %d items in the orders table before the erasure", n)
	}

	// The erasure, with site B offline.
	logsBefore := len(s.logs.String())
	start := time.Now()
	code, m = call(t, api, request("DELETE", "/me", x, home, nil, ""))
	if code != 202 {
		t.Fatalf("DELETE /me = %d %v", code, m)
	}
	erasureID := m["erasureId"].(string)
	if code, m := post(t, api, x, home, "after"); code != 403 || m["error"].(map[string]any)["code"] != "ACCOUNT_ERASED" {
		t.Fatalf("POST after DELETE /me = %d %v, want 403 ACCOUNT_ERASED", code, m)
	}
	a.start()
	s.runWorker(home)

	// Everything but site B: the pool, the registry, the orders table, site A.
	waitFor(t, 60*time.Second, "pool, registry, orders table and site A clean", func() bool {
		ra, ta := a.rows(x)
		return !s.poolHas(home, xEmail) && len(s.ownerItems(home, x)) == 0 && len(ra) == 0 && len(ta) == 1 && len(s.claims()) == 1
	})
	time.Sleep(2 * time.Second) // several worker runs and re-sends
	if code, m := erasureOf(t, api, x); code != 200 || m["status"] != "IN_PROGRESS" || m["erasureId"] != erasureID {
		t.Fatalf("with site B offline, GET /me/erasure = %d %v, want IN_PROGRESS", code, m)
	}
	if rb, _ := b.rows(x); len(rb) == 0 {
		t.Fatal("site B is offline but its rows of x are gone")
	}

	// Site B comes back.
	b.start()
	waitFor(t, 60*time.Second, "erasure COMPLETED", func() bool {
		_, m := erasureOf(t, api, x)
		return m["status"] == "COMPLETED"
	})
	elapsed := time.Since(start)
	t.Logf("erasure COMPLETED %.1f s after DELETE /me (site B offline for part of it)", elapsed.Seconds())

	// Every place clean.
	for _, st := range []*site{a, b} {
		ids, tomb := st.rows(x)
		if len(ids) != 0 || len(tomb) != 1 || tomb[0] != erasureID {
			t.Errorf("%s: rows of x %v, tombstones %v", st.name, ids, tomb)
		}
	}
	if items := s.ownerItems(home, x); len(items) != 0 {
		t.Errorf("orders table items of x: %v", items)
	}
	for _, id := range completed {
		if st := orderStatus(t, api, x, id); st != "" {
			t.Errorf("GET /orders/%s of an erased order = %s, want 404", id, st)
		}
	}
	if s.poolHas(home, xEmail) {
		t.Error("x is still in the pool")
	}
	if c := s.claims(); len(c) != 1 {
		t.Errorf("registry claims %v, want only y's", c)
	}
	r := s.region(home)
	if n := mentions(s.queueBodies(home, r.OrdersDLQURL), x); n != 0 {
		t.Errorf("%d messages of x in the DLQ", n)
	}
	waitFor(t, 30*time.Second, "x's queued orders deleted unread", func() bool { return mentions(s.queueBodies(home, r.OrdersQueueURL), x) == 0 })
	for _, st := range []*site{a, b} { // the queued ones were never stored
		if ids, _ := st.rows(x); len(ids) != 0 {
			t.Errorf("%s stored x's queued order after the erasure: %v", st.name, ids)
		}
	}
	rec := s.record(x)
	for _, attr := range []string{"subject", "idKey", "erasurePending"} {
		if _, ok := rec[attr]; ok {
			t.Errorf("the completed erasure record keeps %s", attr)
		}
	}
	for k, v := range rec {
		if sv, ok := v.(*ddbtypes.AttributeValueMemberS); ok && (strings.Contains(sv.Value, x) || strings.Contains(sv.Value, xEmail)) {
			t.Errorf("the completed erasure record's %s names x", k)
		}
	}

	// y untouched.
	if n := mentions(s.queueBodies(home, r.OrdersDLQURL), y); n != 1 {
		t.Errorf("%d messages of y in the DLQ, want 1", n)
	}
	if orderStatus(t, api, y, yDone) != "COMPLETED" {
		t.Error("y's completed order is gone")
	}
	ra, _ := a.rows(y)
	rb, _ := b.rows(y)
	if len(ra)+len(rb) != 1 {
		t.Errorf("y's rows at the sites: A %v, B %v, want 1", ra, rb)
	}
	if !s.poolHas(home, yEmail) {
		t.Error("y left the pool")
	}

	// The address is free: it signs up again, a new user.
	x2, err := s.user(home, xEmail, "DE")
	if err != nil || x2 == x {
		t.Errorf("sign-up again after the erasure: sub %s, %v", x2, err)
	}

	// No log line names an address; none written since DELETE /me (the
	// erasure path: the API, the worker, the processors) names a user's
	// sub. (The triggers log the sub of a sign-up: docs/erasure.md.)
	logs := s.logs.String()
	for i, v := range []string{xEmail, yEmail, x, y} {
		part := logs
		if i >= 2 {
			part = logs[logsBefore:]
		}
		for _, line := range strings.Split(part, "\n") {
			if strings.Contains(line, v) {
				t.Errorf("a log line names %q: %s", v, line)
				break
			}
		}
	}
}

// TestErasureRacesANewSignUpInTheZone erases a user of eu-west-1 while the
// same address signs up in eu-central-1 (the same residency zone), trying
// again until its confirmation claims the address: the new claim is never
// deleted by the erasure, whenever it lands.
func TestErasureRacesANewSignUpInTheZone(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: moto_server")
	}
	const peer = "eu-central-1"
	s := newStack(t, home, peer)
	api := s.api(home)
	email := "race-" + randHex(4) + "@example.com"
	x, err := s.user(home, email, "DE")
	if err != nil {
		t.Fatal(err)
	}
	if code, m := call(t, api, request("DELETE", "/me", x, home, nil, "")); code != 202 {
		t.Fatalf("DELETE /me = %d %v", code, m)
	}
	s.runWorker(home)
	// The new sign-up in the peer region: its confirmation is refused while
	// eu-west-1 holds the address, and tried again every 50 ms.
	var refused int
	waitFor(t, 60*time.Second, "the sign-up in "+peer+" confirmed", func() bool {
		_, err := s.confirmAgain(peer, email)
		if err != nil {
			refused++
			return false
		}
		return true
	})
	waitFor(t, 60*time.Second, "erasure COMPLETED", func() bool {
		_, m := erasureOf(t, api, x)
		return m["status"] == "COMPLETED"
	})
	t.Logf("the confirmation in %s was refused %d times before the claim was released", peer, refused)
	if c := s.claims(); len(c) != 1 || c[0] != peer {
		t.Fatalf("registry claims %v after the erasure, want exactly the new one in %s", c, peer)
	}
	if s.poolHas(home, email) || !s.poolHas(peer, email) {
		t.Fatalf("the address is in %s's pool: %v, in %s's: %v; want only %s", home, s.poolHas(home, email), peer, s.poolHas(peer, email), peer)
	}
	if logs := s.logs.String(); strings.Contains(logs, email) {
		t.Error("a log line names the address")
	}
}

// confirmAgain creates (the first time) the user email in region's pool
// and runs the region's PostConfirmation trigger for it.
func (s *stack) confirmAgain(region, email string) (string, error) {
	s.t.Helper()
	out, err := cip.NewFromConfig(s.cfg(region)).ListUsers(context.Background(), &cip.ListUsersInput{
		UserPoolId: aws.String(s.region(region).UserPoolID), Filter: aws.String(`email = "` + email + `"`)})
	if err != nil {
		s.t.Fatal(err)
	}
	if len(out.Users) == 0 {
		return s.user(region, email, "DE")
	}
	return s.confirm(region, aws.ToString(out.Users[0].Username), out.Users[0].Attributes)
}

// mustKey is the sites' public key the region's orders API seals to.
func mustKey(t *testing.T, s *stack) sealed.PublicKey {
	t.Helper()
	k, err := sealed.ParsePublicKey(s.env(home, "OrdersApiFunction", nil)("SITE_PUBLIC_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
