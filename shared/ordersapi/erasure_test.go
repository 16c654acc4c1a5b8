package ordersapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
)

const otherOwner = "3f0e6a8e-2222-4c2b-9d5e-000000000002"

func asOther(r *events.APIGatewayV2HTTPRequest) {
	r.RequestContext.Authorizer.JWT.Claims = map[string]string{"sub": otherOwner, "custom:region": testRegion}
}

// TestErasure drives DELETE /me, GET /me/erasure and POST /orders through
// one user's erasure over the in-memory store with the adapter's semantics.
func TestErasure(t *testing.T) {
	st := newMemStore(func() time.Time { return testNow })
	q := &fakeQueue{}
	h := newHandler(st, q)
	ctx := context.Background()
	// An order accepted before the erasure, and one abandoned in flight (its
	// invocation died before sending) whose lease will have passed.
	first := orderID(t, invoke(t, ctx, h, postReq(validBody)))
	o, _ := orders.DecodeOrder([]byte(validBody))
	hash, _ := requestHash("key-dead", o)
	dead := IdemRecord{Key: ordertable.IdemKey(testOwner, "key-dead"), Owner: testOwner, RequestHash: hash, OrderID: "deadorder", State: IdemInFlight,
		Token: "dead", LeaseUntil: testNow.Add(-time.Second), CreatedAt: testNow.Add(-time.Minute), ExpiresAt: testNow.Add(time.Hour)}
	if err := st.Begin(ctx, dead, OrderRecord{ID: "deadorder", Owner: testOwner, Status: orders.StatusAccepted}); err != nil {
		t.Fatal(err)
	}

	var erasureID string
	steps := []struct {
		name     string
		req      events.APIGatewayV2HTTPRequest
		before   func() // changes the store as the worker would
		status   int
		code     string // error code, for an error
		body     string // exact body of a success; "$id" is the erasure id
		messages int    // in the queue after the step
	}{
		{name: "GET before any erasure", req: meReq("GET"), status: 404, code: "NO_ERASURE", messages: 1},
		{name: "DELETE /me", req: meReq("DELETE"), status: 202, body: `{"erasureId":"$id","status":"ACCEPTED"}`, messages: 1},
		{name: "DELETE /me again", req: meReq("DELETE"), status: 202, body: `{"erasureId":"$id","status":"ACCEPTED"}`, messages: 1},
		{name: "DELETE /me on the $default route", req: meReq("DELETE", withRoute("DELETE", "/me/")), status: 202, body: `{"erasureId":"$id","status":"ACCEPTED"}`, messages: 1},
		{name: "GET after", req: meReq("GET"), status: 200, body: `{"erasureId":"$id","status":"ACCEPTED","updatedAt":"2026-11-22T01:00:00Z"}`, messages: 1},
		{name: "POST a new key", req: postReq(validBody, withHeader("idempotency-key", "key-2")), status: 403, code: "ACCOUNT_ERASED", messages: 1},
		{name: "POST a replay of a sent key", req: postReq(validBody), status: 403, code: "ACCOUNT_ERASED", messages: 1},
		{name: "POST a key abandoned in flight", req: postReq(validBody, withHeader("idempotency-key", "key-dead")), status: 403, code: "ACCOUNT_ERASED", messages: 1},
		{name: "DELETE /me while in progress", req: meReq("DELETE"), before: func() {
			e := st.erasures[testOwner]
			e.Status, e.UpdatedAt = ordertable.ErasureInProgress, testNow.Add(time.Minute)
			st.erasures[testOwner] = e
		}, status: 202, body: `{"erasureId":"$id","status":"IN_PROGRESS"}`, messages: 1},
		{name: "GET while in progress", req: meReq("GET", withRoute("GET", "/me/erasure")), status: 200,
			body: `{"erasureId":"$id","status":"IN_PROGRESS","updatedAt":"2026-11-22T01:01:00Z"}`, messages: 1},
		{name: "GET an order of the erased owner, tombstoned", req: getReq(first), before: func() {
			st.orders[first] = OrderRecord{ID: first, Owner: testOwner, Status: orders.StatusErased}
		}, status: 404, code: "ORDER_NOT_FOUND", messages: 1},
		{name: "another user has no erasure", req: meReq("GET", asOther), status: 404, code: "NO_ERASURE", messages: 1},
		{name: "another user still orders", req: postReq(validBody, asOther), status: 202, messages: 2},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.before != nil {
				s.before()
			}
			resp := invoke(t, ctx, h, s.req)
			if s.code != "" {
				checkError(t, resp, s.status, s.code)
			} else if resp.StatusCode != s.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, s.status, resp.Body)
			}
			if s.status == 202 && erasureID == "" && strings.Contains(s.body, "$id") {
				var b erasureAccepted
				if err := json.Unmarshal([]byte(resp.Body), &b); err != nil || b.ErasureID == "" {
					t.Fatalf("body %s: %v", resp.Body, err)
				}
				erasureID = b.ErasureID
			}
			if want := strings.ReplaceAll(s.body, "$id", erasureID); want != "" && resp.Body != want {
				t.Fatalf("body %s, want %s", resp.Body, want)
			}
			if s.status < 300 && resp.Headers["Content-Type"] != "application/json" {
				t.Fatalf("headers %v", resp.Headers)
			}
			if q.count() != s.messages {
				t.Fatalf("%d messages, want %d", q.count(), s.messages)
			}
		})
	}
	if _, ok := st.orders["deadorder"]; !ok || len(st.orders) != 3 {
		t.Fatalf("order records %v: want the two of before the erasure and the other user's", st.orders)
	}
}

// DELETE /me and GET /me/erasure make exactly one Store call each, DELETE
// with a new id from Handler.NewID, and map the Store's failures like POST's.
func TestErasureStoreCalls(t *testing.T) {
	corrupt := fmt.Errorf("erasure: %w", ordertable.ErrCorrupt)
	down := fmt.Errorf("%w: request erasure: %w", ErrUnavailable, errors.New("dial tcp: secret internals"))
	tests := []struct {
		name      string
		req       events.APIGatewayV2HTTPRequest
		reqErr    error
		getErr    error
		status    int
		code      string
		wantCalls string
	}{
		{name: "DELETE", req: meReq("DELETE"), status: 202, wantCalls: "RequestErasure"},
		{name: "DELETE, store down", req: meReq("DELETE"), reqErr: down, status: 503, code: "SERVICE_UNAVAILABLE", wantCalls: "RequestErasure"},
		{name: "DELETE, corrupt record", req: meReq("DELETE"), reqErr: corrupt, status: 500, code: "INTERNAL", wantCalls: "RequestErasure"},
		{name: "GET", req: meReq("GET"), status: 200, wantCalls: "Erasure"},
		{name: "GET, none", req: meReq("GET"), getErr: fmt.Errorf("erasure: %w", ordertable.ErrNoErasure), status: 404, code: "NO_ERASURE", wantCalls: "Erasure"},
		{name: "GET, store down", req: meReq("GET"), getErr: down, status: 503, code: "SERVICE_UNAVAILABLE", wantCalls: "Erasure"},
		{name: "GET, corrupt record", req: meReq("GET"), getErr: corrupt, status: 500, code: "INTERNAL", wantCalls: "Erasure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ordertable.Erasure{ID: "e1", Status: ordertable.ErasureAccepted, UpdatedAt: testNow}
			st := &fakeStore{
				RequestFn: func(_ context.Context, owner, id, home string, now time.Time) (ordertable.Erasure, bool, error) {
					if owner != testOwner || id != "id0001" || home != testRegion || !now.Equal(testNow) {
						t.Errorf("RequestErasure(%q, %q, %q, %v)", owner, id, home, now)
					}
					return e, true, tt.reqErr
				},
				ErasureFn: func(_ context.Context, owner string) (ordertable.Erasure, error) {
					if owner != testOwner {
						t.Errorf("Erasure(%q)", owner)
					}
					return e, tt.getErr
				},
			}
			q := &fakeQueue{}
			resp, err := newHandler(st, q).Handle(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if tt.code != "" {
				checkError(t, resp, tt.status, tt.code)
			} else if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, resp.Body)
			}
			if strings.Contains(resp.Body, "internals") || q.count() != 0 {
				t.Fatalf("body %s, %d messages", resp.Body, q.count())
			}
			if got := strings.Join(st.calls, ","); got != tt.wantCalls {
				t.Fatalf("store calls %s, want %s", got, tt.wantCalls)
			}
		})
	}
}

// POST /orders of an erased owner: Begin's ErrErased is 403 ACCOUNT_ERASED
// at the one error boundary, and nothing is sent, taken over or released.
func TestCreateErased(t *testing.T) {
	st := &fakeStore{BeginFn: func(context.Context, IdemRecord, OrderRecord) error { return fmt.Errorf("begin: %w", ErrErased) }}
	q := &fakeQueue{}
	resp, _ := newHandler(st, q).Handle(context.Background(), postReq(validBody))
	checkError(t, resp, 403, "ACCOUNT_ERASED")
	if q.count() != 0 || strings.Join(st.calls, ",") != "Begin" {
		t.Fatalf("%d messages, store calls %v", q.count(), st.calls)
	}
}

// An ERASED status record never shows, whether the Store reports it unknown
// (as DynamoStore does) or returns the tombstone.
func TestGetErasedOrder(t *testing.T) {
	for _, tt := range []struct {
		name string
		rec  OrderRecord
		err  error
	}{
		{"unknown", OrderRecord{}, fmt.Errorf("get order: %w", orders.ErrUnknownOrder)},
		{"tombstone without owner", OrderRecord{ID: "o1", Status: orders.StatusErased}, nil},
		{"tombstone with the owner", OrderRecord{ID: "o1", Owner: testOwner, Status: orders.StatusErased, CreatedAt: testNow, UpdatedAt: testNow}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStore{OrderFn: func(context.Context, string) (OrderRecord, error) { return tt.rec, tt.err }}
			resp, _ := newHandler(st, &fakeQueue{}).Handle(context.Background(), getReq("o1"))
			checkError(t, resp, 404, "ORDER_NOT_FOUND")
		})
	}
}

// The erasure record names the token's home region, never the serving
// region's: in a zone pair the partner may serve a user's DELETE /me, and
// the home region's worker must carry it out.
func TestEraseMeRecordsTheTokensHome(t *testing.T) {
	for _, home := range []string{"eu-central-1", "eu-west-1"} {
		t.Run(home, func(t *testing.T) {
			store := newMemStore(func() time.Time { return testNow })
			h, err := NewForPair(euPair, testKey(), store, &fakeQueue{}, logging.Discard())
			if err != nil {
				t.Fatal(err)
			}
			claims := withClaims(map[string]string{"sub": testOwner, "custom:region": home, "token_use": "id"})
			if r, _ := h.Handle(context.Background(), meReq("DELETE", claims)); r.StatusCode != 202 {
				t.Fatalf("DELETE /me = %d %s", r.StatusCode, r.Body)
			}
			e, err := store.Erasure(context.Background(), testOwner)
			if err != nil || e.Home != home {
				t.Fatalf("record home = %q (%v), want %q", e.Home, err, home)
			}
		})
	}
}
