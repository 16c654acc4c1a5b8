package ordersapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/ddbattr"
	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
)

// The compile-time half of "a PairStore never calls a transaction": its
// client interface has none (pairDB has them only to fail the test).
var _ PairDB = (*pairDB)(nil)

// pairEnv is a paired handler over a PairStore on a pairDB, with a clock.
type pairEnv struct {
	db   *pairDB
	q    *planQueue
	plan *callPlan
	h    *Handler
	now  time.Time
}

func newPairEnv(t *testing.T) *pairEnv {
	plan := &callPlan{}
	e := &pairEnv{db: newPairDB(t, plan), q: &planQueue{plan: plan}, plan: plan, now: testNow}
	h, err := NewForPair(euPair, testKey(), NewPairStore(e.db, "pair"), e.q, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	h.Now = func() time.Time { return e.now }
	e.h = h
	return e
}

// post sends POST /orders with key and body by testOwner, a eu-west-1 user
// (the partner's: eu-central-1 serves).
func (e *pairEnv) post(key, body string) (int, string) {
	resp, _ := e.h.Handle(context.Background(), postReq(body, withHeader("idempotency-key", key),
		withClaims(map[string]string{"sub": testOwner, "custom:region": "eu-west-1"})))
	if resp.StatusCode != 202 {
		return resp.StatusCode, resp.Body
	}
	var b acceptedBody
	if err := json.Unmarshal([]byte(resp.Body), &b); err != nil {
		return 0, resp.Body
	}
	return 202, b.OrderID
}

// record is the order record of key's order.
func (e *pairEnv) record(key string) map[string]types.AttributeValue {
	return e.db.item(ordertable.OrderKey(ordertable.KeyOrderID(ordertable.IdemKey(testOwner, key))))
}

// checkOneOrder asserts the table holds exactly one order (key's), no
// idempotency item, and every message sent is that order.
func (e *pairEnv) checkOneOrder(t *testing.T, key string) {
	t.Helper()
	id := ordertable.KeyOrderID(ordertable.IdemKey(testOwner, key))
	if got := e.db.keys("ORDER#"); len(got) != 1 || got[0] != ordertable.OrderKey(id) {
		t.Errorf("order records %v, want only %s", got, ordertable.OrderKey(id))
	}
	if got := e.db.keys("IDEM#"); len(got) != 0 {
		t.Errorf("idempotency items %v in a pair table", got)
	}
	for _, m := range e.q.sent {
		if m.OrderID != id || openBody(t, m.Body).OrderID != id {
			t.Errorf("message of order %s, want %s", m.OrderID, id)
		}
	}
}

const otherBody = `{"items":[{"sku":"AB-13","quantity":1}],"deliveryAddress":{"name":"Ada Lovelace","line1":"1 Main St","city":"Dublin","postalCode":"D01","country":"IE"}}`

// TestPairStoreCreate: the happy path is four AWS calls (erasure read, one
// conditional write, the send, mark sent), no transaction, and one item
// that is the order's status record (owner, ACCEPTED: what Get, the site's
// Claim and the owner index need) and its idempotency state.
func TestPairStoreCreate(t *testing.T) {
	e := newPairEnv(t)
	status, id := e.post("k1", validBody)
	if status != 202 || id != ordertable.KeyOrderID(ordertable.IdemKey(testOwner, "k1")) {
		t.Fatalf("POST = %d %s, want 202 with the key's derived id", status, id)
	}
	if got, want := e.plan.log(), "GetItem PutItem SendMessage UpdateItem"; got != want {
		t.Errorf("AWS calls per order: %q, want %q (4)", got, want)
	}
	r := ddbattr.NewReader(e.record("k1"))
	if r.S(ordertable.AttrOwner) != testOwner || r.S(ordertable.AttrStatus) != string(orders.StatusAccepted) ||
		r.S("state") != string(IdemComplete) || r.S(ordertable.AttrRequestHash) == "" || r.S(ordertable.AttrIdemToken) == "" {
		t.Errorf("order record %v", e.record("k1"))
	}
	if _, ok := e.record("k1")[ordertable.AttrClaim]; ok {
		t.Error("the order record carries a site claim: no site could claim it")
	}
	if _, ok := e.record("k1")[ordertable.AttrExpiresAt]; ok {
		t.Error("the order record has a TTL attribute in a table without TTL")
	}
	e.checkOneOrder(t, "k1")
	// GET /orders/{id} reads the same record, for the owner.
	resp, _ := e.h.Handle(context.Background(), getReq(id, withClaims(map[string]string{"sub": testOwner, "custom:region": "eu-west-1"})))
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"status":"ACCEPTED"`) {
		t.Errorf("GET = %d %s", resp.StatusCode, resp.Body)
	}
}

// TestPairStoreIdempotency: each answer of the idempotency protocol on the
// pair store, from the stored record it meets.
func TestPairStoreIdempotency(t *testing.T) {
	inFlight := func(e *pairEnv, token string, leaseUntil time.Time) {
		id := ordertable.KeyOrderID(ordertable.IdemKey(testOwner, "k1"))
		hash, _ := requestHash("k1", mustDecode(t, validBody))
		item := ordertable.KeyedOrder{Order: ordertable.Order{ID: id, Owner: testOwner, Status: orders.StatusAccepted,
			CreatedAt: testNow.Add(-time.Hour), UpdatedAt: testNow.Add(-time.Hour)}, RequestHash: hash}.Attrs()
		item[ordertable.AttrPK] = ddbattr.S(ordertable.OrderKey(id))
		item["state"], item[ordertable.AttrIdemToken] = ddbattr.S("IN_FLIGHT"), ddbattr.S(token)
		item["leaseUntil"] = ddbattr.N(leaseUntil.UnixMilli())
		e.db.put(item)
	}
	erase := func(e *pairEnv) {
		e.db.put(map[string]types.AttributeValue{ordertable.AttrPK: ddbattr.S(ordertable.ErasureKey(testOwner)),
			ordertable.AttrErasureID: ddbattr.S("e1"), ordertable.AttrStatus: ddbattr.S("ACCEPTED")})
	}
	tests := []struct {
		name     string
		setup    func(*pairEnv)
		body     string
		want     int
		wantCode string
		wantSent int
		wantLog  string
	}{
		{"same key and body: the same order", func(e *pairEnv) { e.post("k1", validBody) }, validBody, 202, "", 1, "GetItem PutItem"},
		{"other body: 422", func(e *pairEnv) { e.post("k1", validBody) }, otherBody, 422, "IDEMPOTENCY_KEY_REUSED", 1, "GetItem PutItem"},
		{"live lease: 409", func(e *pairEnv) { inFlight(e, "other", testNow.Add(10*time.Second)) }, validBody, 409, "REQUEST_IN_PROGRESS", 0, "GetItem PutItem"},
		{"abandoned: taken over, same id", func(e *pairEnv) { inFlight(e, "other", testNow.Add(-time.Second)) }, validBody, 202, "", 1,
			"GetItem PutItem UpdateItem SendMessage UpdateItem"},
		{"erased owner: 403", erase, validBody, 403, "ACCOUNT_ERASED", 0, "GetItem"},
		{"erased owner, replayed key: 403", func(e *pairEnv) { e.post("k1", validBody); erase(e) }, validBody, 403, "ACCOUNT_ERASED", 1, "GetItem"},
		{"tombstone without erasure record: 403", func(e *pairEnv) {
			e.post("k1", validBody)
			item := e.record("k1")
			delete(item, ordertable.AttrOwner)
			item[ordertable.AttrStatus] = ddbattr.S(string(orders.StatusErased))
			e.db.put(item)
		}, validBody, 403, "ACCOUNT_ERASED", 1, "GetItem PutItem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newPairEnv(t)
			tt.setup(e)
			e.plan.reset()
			status, out := e.post("k1", tt.body)
			if status != tt.want || (tt.wantCode != "" && !strings.Contains(out, `"`+tt.wantCode+`"`)) {
				t.Fatalf("POST = %d %s, want %d %s", status, out, tt.want, tt.wantCode)
			}
			if status == 202 && out != ordertable.KeyOrderID(ordertable.IdemKey(testOwner, "k1")) {
				t.Errorf("order id %s, want the key's", out)
			}
			if e.q.count() != tt.wantSent {
				t.Errorf("%d messages, want %d", e.q.count(), tt.wantSent)
			}
			if got := e.plan.log(); got != tt.wantLog {
				t.Errorf("calls %q, want %q", got, tt.wantLog)
			}
			if tt.name != "erased owner: 403" {
				e.checkOneOrder(t, "k1")
			}
		})
	}
}

func mustDecode(t *testing.T, body string) orders.Order {
	t.Helper()
	o, err := orders.DecodeOrder([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestPairStoreCrashes: the invocation dies before each of its AWS calls in
// turn, or right after it with its answer lost; a retry with the same key
// once the lease has passed answers 202 with the key's order id, and the
// table holds that one order, marked sent; every message is that order.
func TestPairStoreCrashes(t *testing.T) {
	calls := []string{"GetItem", "PutItem", "SendMessage", "UpdateItem"}
	for n := 1; n <= len(calls); n++ {
		for _, lost := range []bool{false, true} {
			name := fmt.Sprintf("dies before %s", calls[n-1])
			if lost {
				name = fmt.Sprintf("dies after %s", calls[n-1])
			}
			t.Run(name, func(t *testing.T) {
				e := newPairEnv(t)
				if lost {
					e.plan.lose = n
				} else {
					e.plan.failFrom = n
				}
				first, _ := e.post("k1", validBody)
				e.plan.reset()
				e.now = e.now.Add(DefaultLease + time.Second)
				status, id := e.post("k1", validBody)
				if status != 202 || id != ordertable.KeyOrderID(ordertable.IdemKey(testOwner, "k1")) {
					t.Fatalf("retry = %d %s (first %d), want 202 with the key's order id", status, id, first)
				}
				e.checkOneOrder(t, "k1")
				if e.q.count() == 0 {
					t.Fatal("no message: the order is lost")
				}
				if r := ddbattr.NewReader(e.record("k1")); r.S("state") != string(IdemComplete) || r.S(ordertable.AttrStatus) != string(orders.StatusAccepted) {
					t.Errorf("record %v, want ACCEPTED and marked sent", e.record("k1"))
				}
				// And a third attempt replays without sending.
				sent := e.q.count()
				if status, _ := e.post("k1", validBody); status != 202 || e.q.count() != sent {
					t.Errorf("replay = %d, %d messages (was %d)", status, e.q.count(), sent)
				}
			})
		}
	}
}

// TestPairStoreNoTransactions: every route over the pair store, the
// idempotency paths and the erasure routes, makes single-item calls only
// (pairDB fails the test on a Transact* call), and the adapter PairStore
// gives DynamoStore's reused methods refuses a transaction without a call.
func TestPairStoreNoTransactions(t *testing.T) {
	e := newPairEnv(t)
	claims := withClaims(map[string]string{"sub": testOwner, "custom:region": "eu-west-1"})
	_, id := e.post("k1", validBody)
	e.post("k1", validBody)
	e.post("k1", otherBody)
	e.h.Handle(context.Background(), getReq(id, claims))
	e.h.Handle(context.Background(), meReq("DELETE", claims))
	e.h.Handle(context.Background(), meReq("GET", claims))
	e.post("k2", validBody)
	for _, op := range strings.Fields(e.plan.log()) {
		switch op {
		case "GetItem", "PutItem", "UpdateItem", "SendMessage":
		default:
			t.Errorf("call %s on a pair table", op)
		}
	}
	_, err := (noTransactions{e.db}).TransactWriteItems(context.Background(), nil)
	if !errors.Is(err, errNoTransactions) {
		t.Errorf("noTransactions.TransactWriteItems = %v", err)
	}
	// Begin with an id that is not the key's is a wiring mistake, refused
	// before any call.
	e.plan.reset()
	st := NewPairStore(e.db, "pair")
	rec := IdemRecord{Key: ordertable.IdemKey(testOwner, "k3"), Owner: testOwner, OrderID: "random", Token: "t"}
	if err := st.Begin(context.Background(), rec, OrderRecord{ID: "random"}); err == nil || e.plan.log() != "" {
		t.Errorf("Begin with a random id: %v, calls %q", err, e.plan.log())
	}
}
