package ordersapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/homeregion/homeregion/shared/awsname"
	"github.com/homeregion/homeregion/shared/logging"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
)

// fakeStore is a Store made of function fields; nil fields fail the test
// through the unexpected call counter.
type fakeStore struct {
	// Unmarked makes MarksSent false (DynamoStore's records); by default
	// the fake's records are leased and marked complete (PairStore's).
	Unmarked   bool
	mu         sync.Mutex
	calls      []string
	BeginFn    func(ctx context.Context, rec IdemRecord, order OrderRecord) error
	ReclaimFn  func(ctx context.Context, key, oldToken, newToken string, leaseUntil time.Time) error
	CompleteFn func(ctx context.Context, key, token string) error
	ReleaseFn  func(ctx context.Context, key, token string) error
	OrderFn    func(ctx context.Context, id string) (OrderRecord, error)
	RequestFn  func(ctx context.Context, owner, id, home string, now time.Time) (ordertable.Erasure, bool, error)
	ErasureFn  func(ctx context.Context, owner string) (ordertable.Erasure, error)
}

var errUnexpected = errors.New("unexpected call")

func (f *fakeStore) record(op string) {
	f.mu.Lock()
	f.calls = append(f.calls, op)
	f.mu.Unlock()
}

func (f *fakeStore) MarksSent() bool { return !f.Unmarked }

func (f *fakeStore) Begin(ctx context.Context, rec IdemRecord, order OrderRecord) error {
	f.record("Begin")
	if f.BeginFn == nil {
		return errUnexpected
	}
	return f.BeginFn(ctx, rec, order)
}

func (f *fakeStore) Reclaim(ctx context.Context, key, oldToken, newToken string, leaseUntil time.Time) error {
	f.record("Reclaim")
	if f.ReclaimFn == nil {
		return errUnexpected
	}
	return f.ReclaimFn(ctx, key, oldToken, newToken, leaseUntil)
}

func (f *fakeStore) Complete(ctx context.Context, key, token string) error {
	f.record("Complete")
	if f.CompleteFn == nil {
		return errUnexpected
	}
	return f.CompleteFn(ctx, key, token)
}

func (f *fakeStore) Release(ctx context.Context, key, token string) error {
	f.record("Release")
	if f.ReleaseFn == nil {
		return errUnexpected
	}
	return f.ReleaseFn(ctx, key, token)
}

func (f *fakeStore) Order(ctx context.Context, id string) (OrderRecord, error) {
	f.record("Order")
	if f.OrderFn == nil {
		return OrderRecord{}, errUnexpected
	}
	return f.OrderFn(ctx, id)
}

func (f *fakeStore) RequestErasure(ctx context.Context, owner, id, home string, now time.Time) (ordertable.Erasure, bool, error) {
	f.record("RequestErasure")
	if f.RequestFn == nil {
		return ordertable.Erasure{}, false, errUnexpected
	}
	return f.RequestFn(ctx, owner, id, home, now)
}

func (f *fakeStore) Erasure(ctx context.Context, owner string) (ordertable.Erasure, error) {
	f.record("Erasure")
	if f.ErasureFn == nil {
		return ordertable.Erasure{}, errUnexpected
	}
	return f.ErasureFn(ctx, owner)
}

// fakeQueue records sent messages; SendFn (optional) decides the outcome.
type fakeQueue struct {
	mu     sync.Mutex
	sent   []Message
	SendFn func(ctx context.Context, m Message) error
}

func (q *fakeQueue) Send(ctx context.Context, m Message) error {
	if q.SendFn != nil {
		if err := q.SendFn(ctx, m); err != nil {
			return err
		}
	}
	q.mu.Lock()
	q.sent = append(q.sent, m)
	q.mu.Unlock()
	return nil
}

func (q *fakeQueue) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.sent)
}

const (
	testRegion = "eu-west-1"
	testOwner  = "3f0e6a8e-1111-4c2b-9d5e-000000000001"
	validBody  = `{"items":[{"sku":"AB-12","quantity":2}],"deliveryAddress":{"name":"Ada Lovelace","line1":"1 Main St","city":"Dublin","postalCode":"D01","country":"IE"}}`
)

var testNow = time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)

// memStore is an in-memory Store with the DynamoDB adapter's semantics,
// for the handler's idempotency logic in unit tests and benchmarks.
type memStore struct {
	mu       sync.Mutex
	idem     map[string]IdemRecord
	orders   map[string]OrderRecord
	erasures map[string]ordertable.Erasure // by owner
	now      func() time.Time
}

func newMemStore(now func() time.Time) *memStore {
	return &memStore{idem: map[string]IdemRecord{}, orders: map[string]OrderRecord{}, erasures: map[string]ordertable.Erasure{}, now: now}
}

// MarksSent: memStore keeps the leased protocol (PairStore's); the unmarked
// one (DynamoStore's) is tested with fakeStore.Unmarked and on moto.
func (m *memStore) MarksSent() bool { return true }

func (m *memStore) Begin(_ context.Context, rec IdemRecord, order OrderRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.erasures[rec.Owner]; ok {
		return fmt.Errorf("begin: %w", ErrErased) // before the key's own state, as the adapter
	}
	if ex, ok := m.idem[rec.Key]; ok { // a key is bound for good
		return &KeyTakenError{Existing: ex}
	}
	m.idem[rec.Key] = rec
	m.orders[order.ID] = order
	return nil
}

func (m *memStore) update(key, token string, f func(*IdemRecord)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.idem[key]
	if !ok || r.Token != token || r.State != IdemInFlight {
		return ErrClaimLost
	}
	f(&r)
	m.idem[key] = r
	return nil
}

func (m *memStore) Reclaim(_ context.Context, key, oldToken, newToken string, leaseUntil time.Time) error {
	return m.update(key, oldToken, func(r *IdemRecord) { r.Token, r.LeaseUntil = newToken, leaseUntil })
}

func (m *memStore) Complete(_ context.Context, key, token string) error {
	return m.update(key, token, func(r *IdemRecord) { r.State, r.LeaseUntil = IdemComplete, time.Time{} })
}

func (m *memStore) Release(_ context.Context, key, token string) error {
	return m.update(key, token, func(r *IdemRecord) { r.LeaseUntil = time.Unix(0, 0) })
}

func (m *memStore) Order(_ context.Context, id string) (OrderRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.orders[id]
	if !ok {
		return OrderRecord{}, orders.ErrUnknownOrder
	}
	return r, nil
}

func (m *memStore) RequestErasure(_ context.Context, owner, id, home string, now time.Time) (ordertable.Erasure, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.erasures[owner]; ok {
		return e, false, nil
	}
	e := ordertable.Erasure{ID: id, Status: ordertable.ErasureAccepted, Via: ordertable.ViaUser, Home: home, RequestedAt: now, UpdatedAt: now}
	m.erasures[owner] = e
	return e, true, nil
}

func (m *memStore) Erasure(_ context.Context, owner string) (ordertable.Erasure, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.erasures[owner]
	if !ok {
		return ordertable.Erasure{}, ordertable.ErrNoErasure
	}
	return e, nil
}

func seqIDs() func() string {
	var mu sync.Mutex
	n := 0
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("id%04d", n)
	}
}

// newHandler builds the Handler through New, with a fixed clock and
// sequential ids.
func newHandler(st Store, q Queue) *Handler {
	h := mustNew(testRegion, st, q)
	h.Now, h.NewID = func() time.Time { return testNow }, seqIDs()
	return h
}

// mustNew is New for tests that build a valid Handler.
func mustNew(region string, st Store, q Queue) *Handler {
	h, err := New(region, testKey(), st, q, logging.Discard())
	if err != nil {
		panic(err)
	}
	return h
}

type reqOpt func(*events.APIGatewayV2HTTPRequest)

func postReq(body string, opts ...reqOpt) events.APIGatewayV2HTTPRequest {
	r := events.APIGatewayV2HTTPRequest{
		Version:  "2.0",
		RouteKey: RouteCreate,
		RawPath:  "/orders",
		Headers:  map[string]string{"content-type": "application/json", "idempotency-key": "key-1"},
		Body:     body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			Stage:      "$default",
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/orders"},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": testOwner, "custom:region": testRegion}}},
		},
	}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func getReq(id string, opts ...reqOpt) events.APIGatewayV2HTTPRequest {
	r := postReq("", opts...)
	r.RouteKey, r.RawPath = RouteGet, "/orders/"+id
	r.RequestContext.HTTP.Method, r.RequestContext.HTTP.Path = "GET", r.RawPath
	r.PathParameters = map[string]string{"orderId": id}
	delete(r.Headers, "idempotency-key")
	return r
}

// meReq is a DELETE /me (method "DELETE") or GET /me/erasure request
// (method "GET") by testOwner, as API Gateway routes it.
func meReq(method string, opts ...reqOpt) events.APIGatewayV2HTTPRequest {
	r := postReq("")
	r.RouteKey, r.RawPath = RouteEraseMe, "/me"
	if method == "GET" {
		r.RouteKey, r.RawPath = RouteErasure, "/me/erasure"
	}
	r.RequestContext.HTTP.Method, r.RequestContext.HTTP.Path = method, r.RawPath
	delete(r.Headers, "idempotency-key")
	delete(r.Headers, "content-type")
	for _, o := range opts {
		o(&r)
	}
	return r
}

func withHeader(k, v string) reqOpt {
	return func(r *events.APIGatewayV2HTTPRequest) { r.Headers[k] = v }
}
func withoutHeader(k string) reqOpt {
	return func(r *events.APIGatewayV2HTTPRequest) { delete(r.Headers, k) }
}
func withClaims(c map[string]string) reqOpt {
	return func(r *events.APIGatewayV2HTTPRequest) { r.RequestContext.Authorizer.JWT.Claims = c }
}
func withRoute(method, path string) reqOpt {
	return func(r *events.APIGatewayV2HTTPRequest) {
		r.RouteKey = "$default"
		r.RawPath, r.RequestContext.HTTP.Path, r.RequestContext.HTTP.Method = path, path, method
		r.PathParameters = nil
	}
}

type errorShape struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		HomeRegion string `json:"homeRegion"`
	} `json:"error"`
}

// checkError asserts the contract's error shape exactly: one "error" object
// with a non-empty UPPER_SNAKE code and message (homeRegion only for WRONG_REGION).
func checkError(t *testing.T, resp events.APIGatewayV2HTTPResponse, status int, code string) errorShape {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, status, resp.Body)
	}
	if ct := resp.Headers["Content-Type"]; ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var raw map[string]map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &raw); err != nil || len(raw) != 1 || raw["error"] == nil {
		t.Fatalf("body %s is not {\"error\":{...}} (%v)", resp.Body, err)
	}
	for k := range raw["error"] {
		if k != "code" && k != "message" && !(k == "homeRegion" && code == "WRONG_REGION") {
			t.Fatalf("unexpected error field %q in %s", k, resp.Body)
		}
	}
	var e errorShape
	if err := json.Unmarshal([]byte(resp.Body), &e); err != nil {
		t.Fatal(err)
	}
	if e.Error.Code != code {
		t.Fatalf("code %q, want %q (message %q)", e.Error.Code, code, e.Error.Message)
	}
	if e.Error.Message == "" || strings.ToUpper(e.Error.Code) != e.Error.Code {
		t.Fatalf("bad error %+v", e.Error)
	}
	return e
}

func TestBadRequests(t *testing.T) {
	addr := `{"name":"A","line1":"B","city":"C","postalCode":"1","country":"IE"}`
	order := func(items, address, extra string) string {
		return `{"items":` + items + `,"deliveryAddress":` + address + extra + `}`
	}
	item := `[{"sku":"AB-12","quantity":2}]`
	many := "[" + strings.TrimSuffix(strings.Repeat(`{"sku":"A","quantity":1},`, 101), ",") + "]"
	big := order(item, addr, `,"note":"`+strings.Repeat("a", orders.MaxBodyBytes)+`"`)
	tests := []struct {
		name   string
		req    events.APIGatewayV2HTTPRequest
		status int
		code   string
	}{
		{"invalid JSON", postReq(`{"items":`), 400, "INVALID_JSON"},
		{"empty body", postReq(``), 400, "INVALID_JSON"},
		{"not an object", postReq(`[1]`), 400, "INVALID_TYPE"},
		{"trailing garbage", postReq(validBody + `garbage`), 400, "TRAILING_DATA"},
		{"second object", postReq(validBody + `{}`), 400, "TRAILING_DATA"},
		{"unknown field", postReq(order(item, addr, `,"owner":"someone-else"`)), 400, "UNKNOWN_FIELD"},
		{"region in body", postReq(order(item, addr, `,"region":"us-east-1"`)), 400, "UNKNOWN_FIELD"},
		{"unknown item field", postReq(order(`[{"sku":"A","quantity":1,"price":1}]`, addr, "")), 400, "UNKNOWN_FIELD"},
		{"duplicate field", postReq(order(item, addr, `,"note":"a","note":"b"`)), 400, "DUPLICATE_FIELD"},
		{"items not array", postReq(order(`{}`, addr, "")), 400, "INVALID_TYPE"},
		{"quantity 0", postReq(order(`[{"sku":"A","quantity":0}]`, addr, "")), 400, "INVALID_QUANTITY"},
		{"quantity 1001", postReq(order(`[{"sku":"A","quantity":1001}]`, addr, "")), 400, "INVALID_QUANTITY"},
		{"quantity 1.5", postReq(order(`[{"sku":"A","quantity":1.5}]`, addr, "")), 400, "INVALID_QUANTITY"},
		{"quantity -1", postReq(order(`[{"sku":"A","quantity":-1}]`, addr, "")), 400, "INVALID_QUANTITY"},
		{`quantity "2"`, postReq(order(`[{"sku":"A","quantity":"2"}]`, addr, "")), 400, "INVALID_TYPE"},
		{"quantity missing", postReq(order(`[{"sku":"A"}]`, addr, "")), 400, "MISSING_FIELD"},
		{"empty items", postReq(order(`[]`, addr, "")), 400, "INVALID_ITEMS"},
		{"101 items", postReq(order(many, addr, "")), 400, "INVALID_ITEMS"},
		{"items missing", postReq(`{"deliveryAddress":` + addr + `}`), 400, "MISSING_FIELD"},
		{"bad sku lower case", postReq(order(`[{"sku":"ab-1","quantity":1}]`, addr, "")), 400, "INVALID_SKU"},
		{"bad sku too long", postReq(order(`[{"sku":"`+strings.Repeat("A", 65)+`","quantity":1}]`, addr, "")), 400, "INVALID_SKU"},
		{"note too long", postReq(order(item, addr, `,"note":"`+strings.Repeat("n", 501)+`"`)), 400, "NOTE_TOO_LONG"},
		{"address missing", postReq(`{"items":` + item + `}`), 400, "MISSING_FIELD"},
		{"address not object", postReq(order(item, `"1 Main St"`, "")), 400, "INVALID_TYPE"},
		{"address city missing", postReq(order(item, `{"name":"A","line1":"B","postalCode":"1","country":"IE"}`, "")), 400, "MISSING_FIELD"},
		{"address name blank", postReq(order(item, `{"name":"","line1":"B","city":"C","postalCode":"1","country":"IE"}`, "")), 400, "INVALID_ADDRESS"},
		{"address bad country", postReq(order(item, `{"name":"A","line1":"B","city":"C","postalCode":"1","country":"Ireland"}`, "")), 400, "INVALID_COUNTRY"},
		{"note with NUL (issue 11.1)", postReq(order(item, addr, `,"note":"a\u0000b"`)), 400, "INVALID_NOTE"},
		{"note with U+FFFF (issue 11.2)", postReq(order(item, addr, `,"note":"a\uffff"`)), 400, "INVALID_NOTE"},
		{"line1 with U+FFFE (issue 11.2)", postReq(order(item, `{"name":"A","line1":"B\ufffe","city":"C","postalCode":"1","country":"IE"}`, "")), 400, "INVALID_ADDRESS"},
		{"name of zero-width characters (issue 11.3)", postReq(order(item, `{"name":"\u200b\u200c\u200d\u2060\ufeff","line1":"B","city":"C","postalCode":"1","country":"IE"}`, "")), 400, "INVALID_ADDRESS"},
		{"Content-Type text/plain (issue 11.4)", postReq(validBody, withHeader("content-type", "text/plain")), 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"no Content-Type (issue 11.4)", postReq(validBody, withoutHeader("content-type")), 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"Content-Type octet-stream (issue 11.4)", postReq(validBody, withHeader("content-type", "application/octet-stream")), 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"Content-Type json suffix", postReq(validBody, withHeader("content-type", "application/jsonx")), 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"Content-Type other charset", postReq(validBody, withHeader("content-type", "application/json; charset=iso-8859-1")), 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"Content-Type malformed", postReq(validBody, withHeader("content-type", "application/json; charset")), 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"Content-Type empty", postReq(validBody, withHeader("content-type", "")), 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"body over 64 KiB", postReq(big), 413, "PAYLOAD_TOO_LARGE"},
		{"base64 body over 64 KiB", postReq(base64.StdEncoding.EncodeToString([]byte(big)), func(r *events.APIGatewayV2HTTPRequest) { r.IsBase64Encoded = true }), 413, "PAYLOAD_TOO_LARGE"},
		{"bad base64", postReq("!!!", func(r *events.APIGatewayV2HTTPRequest) { r.IsBase64Encoded = true }), 400, "INVALID_BODY_ENCODING"},
		{"missing Idempotency-Key", postReq(validBody, withoutHeader("idempotency-key")), 400, "MISSING_IDEMPOTENCY_KEY"},
		{"empty Idempotency-Key", postReq(validBody, withHeader("idempotency-key", "")), 400, "MISSING_IDEMPOTENCY_KEY"},
		{"Idempotency-Key bad chars", postReq(validBody, withHeader("idempotency-key", "key with spaces")), 400, "INVALID_IDEMPOTENCY_KEY"},
		{"Idempotency-Key too long", postReq(validBody, withHeader("idempotency-key", strings.Repeat("k", 129))), 400, "INVALID_IDEMPOTENCY_KEY"},
		{"missing sub", postReq(validBody, withClaims(map[string]string{"custom:region": testRegion})), 401, "UNAUTHENTICATED"},
		{"no authorizer", postReq(validBody, func(r *events.APIGatewayV2HTTPRequest) { r.RequestContext.Authorizer = nil }), 401, "UNAUTHENTICATED"},
		{"missing custom:region", postReq(validBody, withClaims(map[string]string{"sub": testOwner})), 403, "MISSING_REGION_CLAIM"},
		// API Gateway's authorizer lets a Cognito access token of the app client
		// through (client_id, no aud); it carries no custom:region or email.
		{"access token", postReq(validBody, withClaims(map[string]string{"sub": testOwner, "token_use": "access", "client_id": "c1", "scope": "aws.cognito.signin.user.admin"})), 403, "ID_TOKEN_REQUIRED"},
		{"GET access token", getReq("id0001", withClaims(map[string]string{"sub": testOwner, "token_use": "access", "client_id": "c1"})), 403, "ID_TOKEN_REQUIRED"},
		{"malformed custom:region", postReq(validBody, withClaims(map[string]string{"sub": testOwner, "custom:region": "<script>"})), 403, "INVALID_REGION_CLAIM"},
		{"foreign custom:region", postReq(validBody, withClaims(map[string]string{"sub": testOwner, "custom:region": "eu-central-1"})), 403, "WRONG_REGION"},
		{"GET foreign custom:region", getReq("id0001", withClaims(map[string]string{"sub": testOwner, "custom:region": "us-east-1"})), 403, "WRONG_REGION"},
		{"GET missing sub", getReq("id0001", withClaims(map[string]string{"custom:region": testRegion})), 401, "UNAUTHENTICATED"},
		{"someone else's order", getReq("theirs"), 404, "ORDER_NOT_FOUND"},
		{"unknown order", getReq("nosuchorder"), 404, "ORDER_NOT_FOUND"},
		{"malformed order id", getReq("a.b"), 404, "ORDER_NOT_FOUND"},
		{"unknown route", postReq(validBody, withRoute("GET", "/admin")), 404, "NOT_FOUND"},
		{"nested path", postReq(validBody, withRoute("GET", "/orders/a/b")), 404, "NOT_FOUND"},
		{"wrong method on /orders", postReq(validBody, withRoute("DELETE", "/orders")), 405, "METHOD_NOT_ALLOWED"},
		{"GET /orders", postReq(validBody, withRoute("GET", "/orders")), 405, "METHOD_NOT_ALLOWED"},
		{"POST /orders/{id}", postReq(validBody, withRoute("POST", "/orders/abc")), 405, "METHOD_NOT_ALLOWED"},
		{"GET /me", meReq("DELETE", withRoute("GET", "/me")), 405, "METHOD_NOT_ALLOWED"},
		{"POST /me", meReq("DELETE", withRoute("POST", "/me")), 405, "METHOD_NOT_ALLOWED"},
		{"DELETE /me/erasure", meReq("GET", withRoute("DELETE", "/me/erasure")), 405, "METHOD_NOT_ALLOWED"},
		{"POST /me/erasure", meReq("GET", withRoute("POST", "/me/erasure")), 405, "METHOD_NOT_ALLOWED"},
		{"/me/other", meReq("DELETE", withRoute("DELETE", "/me/other")), 404, "NOT_FOUND"},
		// DELETE /me and GET /me/erasure take the token rules of POST /orders.
		{"DELETE /me missing sub", meReq("DELETE", withClaims(map[string]string{"custom:region": testRegion})), 401, "UNAUTHENTICATED"},
		{"DELETE /me access token", meReq("DELETE", withClaims(map[string]string{"sub": testOwner, "token_use": "access", "client_id": "c1"})), 403, "ID_TOKEN_REQUIRED"},
		{"DELETE /me foreign custom:region", meReq("DELETE", withClaims(map[string]string{"sub": testOwner, "custom:region": "eu-central-1"})), 403, "WRONG_REGION"},
		{"DELETE /me missing custom:region", meReq("DELETE", withClaims(map[string]string{"sub": testOwner})), 403, "MISSING_REGION_CLAIM"},
		{"DELETE /me $default foreign custom:region", meReq("DELETE", withRoute("DELETE", "/me"), withClaims(map[string]string{"sub": testOwner, "custom:region": "us-east-1"})), 403, "WRONG_REGION"},
		{"GET /me/erasure missing sub", meReq("GET", withClaims(map[string]string{"custom:region": testRegion})), 401, "UNAUTHENTICATED"},
		{"GET /me/erasure access token", meReq("GET", withClaims(map[string]string{"sub": testOwner, "token_use": "access", "client_id": "c1"})), 403, "ID_TOKEN_REQUIRED"},
		{"GET /me/erasure foreign custom:region", meReq("GET", withClaims(map[string]string{"sub": testOwner, "custom:region": "us-east-1"})), 403, "WRONG_REGION"},
		{"GET /me/erasure malformed custom:region", meReq("GET", withClaims(map[string]string{"sub": testOwner, "custom:region": "eu"})), 403, "INVALID_REGION_CLAIM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStore{OrderFn: func(_ context.Context, id string) (OrderRecord, error) {
				if id == "theirs" {
					return OrderRecord{ID: id, Owner: "someone-else", Status: orders.StatusAccepted, CreatedAt: testNow, UpdatedAt: testNow}, nil
				}
				return OrderRecord{}, orders.ErrUnknownOrder
			}}
			q := &fakeQueue{}
			resp, err := newHandler(st, q).Handle(context.Background(), tt.req)
			if err != nil {
				t.Fatalf("Handle returned error %v", err)
			}
			e := checkError(t, resp, tt.status, tt.code)
			if q.count() != 0 {
				t.Fatalf("%d messages enqueued", q.count())
			}
			for _, c := range st.calls {
				if c != "Order" {
					t.Fatalf("store %s called for a bad request", c)
				}
			}
			if tt.code == "WRONG_REGION" && !awsname.Region(e.Error.HomeRegion) {
				t.Fatalf("homeRegion %q", e.Error.HomeRegion)
			}
			if tt.status == 405 && resp.Headers["Allow"] == "" {
				t.Fatal("405 without Allow")
			}
		})
	}
	if len(tests) < 30 {
		t.Fatalf("only %d cases", len(tests))
	}
}

// Content-Type is compared as a media type: any case, parameters allowed,
// the header name in any case (callers other than API Gateway).
func TestContentTypeAccepted(t *testing.T) {
	for _, h := range []struct{ name, value string }{
		{"content-type", "application/json"},
		{"content-type", "application/json; charset=utf-8"},
		{"content-type", "Application/JSON;Charset=UTF-8"},
		{"Content-Type", "application/json ; foo=bar"},
	} {
		req := postReq(validBody, withoutHeader("content-type"), withHeader(h.name, h.value))
		resp, err := newHandler(newMemStore(func() time.Time { return testNow }), &fakeQueue{}).Handle(context.Background(), req)
		if err != nil || resp.StatusCode != 202 {
			t.Errorf("%s: %s -> %d %s (%v), want 202", h.name, h.value, resp.StatusCode, resp.Body, err)
		}
	}
}

func TestCreateAccepted(t *testing.T) {
	st := newMemStore(func() time.Time { return testNow })
	q := &fakeQueue{}
	h := newHandler(st, q)
	//lint:ignore SA1029 aws-lambda-go stores the trace header under this string key
	ctx := context.WithValue(context.Background(), "x-amzn-trace-id", "Root=1-abc-def;Parent=1;Sampled=1")
	for _, tt := range []struct {
		name string
		req  events.APIGatewayV2HTTPRequest
	}{
		{"route key", postReq(validBody)},
		{"base64 body, mixed-case header, $default route", postReq(base64.StdEncoding.EncodeToString([]byte(validBody)), withoutHeader("idempotency-key"),
			withHeader("Idempotency-Key", "key-2"), withRoute("POST", "/orders"), func(r *events.APIGatewayV2HTTPRequest) { r.IsBase64Encoded = true })},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := q.count()
			resp, _ := h.Handle(ctx, tt.req)
			if resp.StatusCode != 202 {
				t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
			}
			var got acceptedBody
			if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
				t.Fatal(err)
			}
			if got.Status != orders.StatusAccepted || got.Region != testRegion || got.OrderID == "" {
				t.Fatalf("body %s", resp.Body)
			}
			if resp.Headers["Location"] != "/orders/"+got.OrderID {
				t.Fatalf("Location %q", resp.Headers["Location"])
			}
			if q.count() != before+1 {
				t.Fatalf("%d messages, want %d", q.count(), before+1)
			}
			m := q.sent[before]
			if m.OrderID != got.OrderID || m.TraceHeader != "Root=1-abc-def;Parent=1;Sampled=1" {
				t.Fatalf("message %+v", m)
			}
			env := openBody(t, m.Body)
			want := orders.Envelope{Version: orders.SealedVersion, OrderID: got.OrderID, Region: testRegion, Owner: testOwner, CreatedAt: testNow}
			if env.Version != want.Version || env.OrderID != want.OrderID || env.Region != want.Region || env.Owner != want.Owner ||
				!env.CreatedAt.Equal(want.CreatedAt) || env.Order.DeliveryAddress.Country != "IE" || len(env.Order.Items) != 1 {
				t.Fatalf("envelope %+v", env)
			}
			ord, err := st.Order(ctx, got.OrderID)
			if err != nil || ord.Owner != testOwner || ord.Status != orders.StatusAccepted {
				t.Fatalf("order record %+v, %v", ord, err)
			}
		})
	}
}

// TestIdempotency drives the handler's idempotency decisions over the
// in-memory store with the adapter's semantics.
func TestIdempotency(t *testing.T) {
	other := `{"items":[{"sku":"AB-12","quantity":3}],"deliveryAddress":{"name":"Ada Lovelace","line1":"1 Main St","city":"Dublin","postalCode":"D01","country":"IE"}}`
	// Whitespace and member order do not change the order: same hash.
	reordered := "{\n" + `"deliveryAddress":{"country":"IE","postalCode":"D01","city":"Dublin","line1":"1 Main St","name":"Ada Lovelace"},"items":[{"quantity":2,"sku":"AB-12"}]}`
	type step struct {
		at       time.Duration // after testNow
		body     string
		sendErr  error
		status   int
		code     string
		messages int // total after the step
		sameID   bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"replay", []step{{0, validBody, nil, 202, "", 1, true}, {time.Second, validBody, nil, 202, "", 1, true}, {time.Hour, reordered, nil, 202, "", 1, true}}},
		{"other body", []step{{0, validBody, nil, 202, "", 1, true}, {time.Second, other, nil, 422, "IDEMPOTENCY_KEY_REUSED", 1, false}}},
		{"send fails then retry", []step{{0, validBody, ErrUnavailable, 503, "SERVICE_UNAVAILABLE", 0, false}, {time.Second, validBody, nil, 202, "", 1, true}, {2 * time.Second, validBody, nil, 202, "", 1, true}}},
		{"a key is bound for good", []step{{0, validBody, nil, 202, "", 1, true}, {25 * time.Hour, other, nil, 422, "IDEMPOTENCY_KEY_REUSED", 1, false}, {26 * time.Hour, validBody, nil, 202, "", 1, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var now time.Time
			clock := func() time.Time { return now }
			st := newMemStore(clock)
			q := &fakeQueue{}
			h := newHandler(st, q)
			h.Now = clock
			var firstID string
			for i, s := range tt.steps {
				now = testNow.Add(s.at)
				q.SendFn = func(context.Context, Message) error { return s.sendErr }
				resp, _ := h.Handle(context.Background(), postReq(s.body))
				if s.code != "" {
					checkError(t, resp, s.status, s.code)
				} else if resp.StatusCode != s.status {
					t.Fatalf("step %d: status %d, want %d: %s", i, resp.StatusCode, s.status, resp.Body)
				}
				if s.status == 503 && resp.Headers["Retry-After"] == "" {
					t.Fatalf("step %d: 503 without Retry-After", i)
				}
				if q.count() != s.messages {
					t.Fatalf("step %d: %d messages, want %d", i, q.count(), s.messages)
				}
				if resp.StatusCode == 202 {
					var b acceptedBody
					json.Unmarshal([]byte(resp.Body), &b)
					if firstID == "" {
						firstID = b.OrderID
					}
					if s.sameID != (b.OrderID == firstID) {
						t.Fatalf("step %d: order id %s, first %s, want same=%v", i, b.OrderID, firstID, s.sameID)
					}
				}
			}
		})
	}
}

// An in-flight record blocks its key (409) until its lease passes; then the
// key is usable again and the same order is sent once.
func TestInFlightAndAbandoned(t *testing.T) {
	var now = testNow
	st := newMemStore(func() time.Time { return now })
	q := &fakeQueue{}
	h := newHandler(st, q)
	h.Now = func() time.Time { return now }
	// A crashed invocation: the records exist, nothing was sent.
	rec := IdemRecord{Key: ordertable.IdemKey(testOwner, "key-1"), Owner: testOwner, OrderID: "crashed", State: IdemInFlight,
		Token: "dead", LeaseUntil: now.Add(DefaultLease), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	o, _ := orders.DecodeOrder([]byte(validBody))
	rec.RequestHash, _ = requestHash("key-1", o)
	if err := h.store.Begin(context.Background(), rec, OrderRecord{ID: "crashed", Owner: testOwner, Status: orders.StatusAccepted, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}

	now = testNow.Add(DefaultLease / 2)
	resp, _ := h.Handle(context.Background(), postReq(validBody))
	checkError(t, resp, 409, "REQUEST_IN_PROGRESS")
	if resp.Headers["Retry-After"] == "" || q.count() != 0 {
		t.Fatalf("409 headers %v, %d messages", resp.Headers, q.count())
	}
	now = testNow.Add(DefaultLease + time.Second)
	resp, _ = h.Handle(context.Background(), postReq(validBody))
	if resp.StatusCode != 202 || !strings.Contains(resp.Body, `"orderId":"crashed"`) || q.count() != 1 {
		t.Fatalf("after lease: %d %s, %d messages", resp.StatusCode, resp.Body, q.count())
	}
	env := openBody(t, q.sent[0].Body)
	if !env.CreatedAt.Equal(testNow) || env.OrderID != "crashed" {
		t.Fatalf("envelope %+v", env)
	}
}

// Failures of the store map to 503/409 with the error shape, never leak
// internals, and enqueue nothing.
func TestStoreFailures(t *testing.T) {
	tests := []struct {
		name   string
		begin  error
		status int
		code   string
	}{
		{"dynamodb down", fmt.Errorf("%w: begin: %w", ErrUnavailable, errors.New("dial tcp: secret internals")), 503, "SERVICE_UNAVAILABLE"},
		{"transaction conflict", ErrBusy, 409, "REQUEST_IN_PROGRESS"},
		{"bug", errors.New("something unexpected"), 500, "INTERNAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStore{BeginFn: func(context.Context, IdemRecord, OrderRecord) error { return tt.begin }}
			q := &fakeQueue{}
			resp, _ := newHandler(st, q).Handle(context.Background(), postReq(validBody))
			checkError(t, resp, tt.status, tt.code)
			if strings.Contains(resp.Body, "internals") || strings.Contains(resp.Body, "unexpected") || q.count() != 0 {
				t.Fatalf("body %s, %d messages", resp.Body, q.count())
			}
		})
	}
}

// A Begin whose first attempt committed but whose answer was lost finds its
// own record on the SDK's retry: that is success, not a conflict.
func TestBeginRetriedAfterLostAnswer(t *testing.T) {
	st := &fakeStore{
		BeginFn: func(_ context.Context, rec IdemRecord, _ OrderRecord) error {
			return &KeyTakenError{Existing: rec}
		},
		CompleteFn: func(context.Context, string, string) error { return nil },
	}
	q := &fakeQueue{}
	resp, _ := newHandler(st, q).Handle(context.Background(), postReq(validBody))
	if resp.StatusCode != 202 || q.count() != 1 {
		t.Fatalf("status %d (%s), %d messages", resp.StatusCode, resp.Body, q.count())
	}
}

// The happy path makes exactly these store calls: Begin, then Complete after
// the send. A failed Complete still answers 202 (the message is queued).
func TestCreateCalls(t *testing.T) {
	for _, completeErr := range []error{nil, fmt.Errorf("%w: x", ErrUnavailable)} {
		t.Run(fmt.Sprint(completeErr), func(t *testing.T) {
			st := &fakeStore{
				BeginFn:    func(context.Context, IdemRecord, OrderRecord) error { return nil },
				CompleteFn: func(context.Context, string, string) error { return completeErr },
			}
			q := &fakeQueue{}
			resp, _ := newHandler(st, q).Handle(context.Background(), postReq(validBody))
			if resp.StatusCode != 202 || q.count() != 1 || strings.Join(st.calls, ",") != "Begin,Complete" {
				t.Fatalf("status %d, %d messages, calls %v", resp.StatusCode, q.count(), st.calls)
			}
		})
	}
}

func TestGetOwnOrder(t *testing.T) {
	st := &fakeStore{OrderFn: func(_ context.Context, id string) (OrderRecord, error) {
		return OrderRecord{ID: id, Owner: testOwner, Status: orders.StatusCompleted, CreatedAt: testNow, UpdatedAt: testNow.Add(time.Minute)}, nil
	}}
	for _, req := range []events.APIGatewayV2HTTPRequest{getReq("id0001"), getReq("id0001", withRoute("GET", "/orders/id0001/"))} {
		resp, _ := newHandler(st, &fakeQueue{}).Handle(context.Background(), req)
		want := `{"orderId":"id0001","status":"COMPLETED","createdAt":"2026-11-22T01:00:00Z","updatedAt":"2026-11-22T01:01:00Z"}`
		if resp.StatusCode != 200 || resp.Body != want || resp.Headers["Content-Type"] != "application/json" {
			t.Fatalf("%d %s", resp.StatusCode, resp.Body)
		}
	}
}

func TestNewID(t *testing.T) {
	if a, b := NewID(), NewID(); a == b || len(a) != 26 {
		t.Fatal("NewID")
	}
}

// countQueue counts sends and keeps nothing (benchmarks).
type countQueue struct{ n int }

func (q *countQueue) Send(context.Context, Message) error { q.n++; return nil }

// BenchmarkCreateOrder measures a warm POST /orders in process with fakes
// (the AWS calls cost what the fakes cost: nothing), and checks the calls.
func BenchmarkCreateOrder(b *testing.B) {
	var begins, completes int
	st := &fakeStore{
		BeginFn:    func(context.Context, IdemRecord, OrderRecord) error { begins++; return nil },
		CompleteFn: func(context.Context, string, string) error { completes++; return nil },
	}
	q := &countQueue{}
	h := mustNew(testRegion, st, q)
	ctx := context.Background()
	req := postReq(validBody)
	b.ReportAllocs()
	for b.Loop() {
		st.calls = st.calls[:0]
		resp, _ := h.Handle(ctx, req)
		if resp.StatusCode != 202 {
			b.Fatal(resp.StatusCode, resp.Body)
		}
	}
	if q.n != begins || completes != begins {
		b.Fatalf("%d begins, %d sends, %d completes", begins, q.n, completes)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The handler keeps answerReserve before the invocation's deadline: the AWS
// calls get a context that ends that much earlier, so a slow dependency is a
// 503 answer, not a Lambda timeout.
func TestDeadlineReserve(t *testing.T) {
	dl := time.Now().Add(5 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	st := &fakeStore{BeginFn: func(ctx context.Context, _ IdemRecord, _ OrderRecord) error {
		got, ok := ctx.Deadline()
		if !ok || !got.Equal(dl.Add(-answerReserve)) {
			t.Errorf("store deadline %v (set %v), want %v", got, ok, dl.Add(-answerReserve))
		}
		return fmt.Errorf("%w: %w", ErrUnavailable, context.DeadlineExceeded)
	}}
	resp, _ := newHandler(st, &fakeQueue{}).Handle(ctx, postReq(validBody))
	checkError(t, resp, 503, "SERVICE_UNAVAILABLE")
}

// An unmarked store (DynamoStore's protocol): a new order is Begin and Send,
// nothing marked; a failed send releases nothing (there is no lease); a
// replay of an unconfirmed order re-sends the same id and createdAt; a
// replay of a claimed one sends nothing.
func TestUnmarkedStore(t *testing.T) {
	created := testNow.Add(-time.Hour)
	tests := []struct {
		name     string
		begin    error
		sendErr  error
		status   int
		sends    int
		calls    string
		sentFrom time.Time // the envelope's createdAt, when sent
	}{
		{"new order", nil, nil, 202, 1, "Begin", testNow},
		{"new order, send fails", nil, ErrUnavailable, 503, 0, "Begin", time.Time{}},
		{"replay, unconfirmed", &KeyTakenError{Existing: IdemRecord{State: IdemUnconfirmed, CreatedAt: created}}, nil, 202, 1, "Begin", created},
		{"replay, claimed", &KeyTakenError{Existing: IdemRecord{State: IdemComplete, CreatedAt: created}}, nil, 202, 0, "Begin", time.Time{}},
		{"replay, unconfirmed, send fails", &KeyTakenError{Existing: IdemRecord{State: IdemUnconfirmed, CreatedAt: created}}, ErrUnavailable, 503, 0, "Begin", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, _ := orders.DecodeOrder([]byte(validBody))
			hash, _ := requestHash("key-1", o)
			key := ordertable.IdemKey(testOwner, "key-1")
			st := &fakeStore{Unmarked: true, BeginFn: func(_ context.Context, rec IdemRecord, _ OrderRecord) error {
				var kt *KeyTakenError
				if errors.As(tt.begin, &kt) {
					kt.Existing.Key, kt.Existing.Owner, kt.Existing.RequestHash, kt.Existing.OrderID = key, testOwner, hash, rec.OrderID
				}
				return tt.begin
			}}
			q := &fakeQueue{SendFn: func(context.Context, Message) error { return tt.sendErr }}
			resp, _ := newHandler(st, q).Handle(context.Background(), postReq(validBody))
			if resp.StatusCode != tt.status || q.count() != tt.sends || strings.Join(st.calls, ",") != tt.calls {
				t.Fatalf("status %d, %d sends, store calls %v; want %d, %d, %s", resp.StatusCode, q.count(), st.calls, tt.status, tt.sends, tt.calls)
			}
			if tt.sends == 1 {
				m := q.sent[0]
				env := openBody(t, m.Body)
				if m.OrderID != ordertable.KeyOrderID(key) || env.OrderID != m.OrderID || !env.CreatedAt.Equal(tt.sentFrom) {
					t.Fatalf("sent %s created %v, want %s created %v", m.OrderID, env.CreatedAt, ordertable.KeyOrderID(key), tt.sentFrom)
				}
			}
		})
	}
}
