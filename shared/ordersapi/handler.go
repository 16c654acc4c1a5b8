// Package ordersapi is the regional orders API: the API Gateway HTTP API
// (payload v2) handler for POST /orders, GET /orders/{orderId}, DELETE /me
// and GET /me/erasure, and its DynamoDB (orders table) and SQS (orders
// queue) adapters.
//
// The handler takes the owner and region from the JWT claims only, decodes
// bodies strictly (orders.DecodeOrder), makes POST idempotent on (owner,
// Idempotency-Key) with conditional writes and enqueues each accepted order
// exactly once per key as a version 2 message (orders.SealedEnvelope): the
// order sealed to the sites' public key (package sealed), so nothing of it
// (items, address, note) is readable in the queue, the orders table or a log
// line. The contract users see is in docs/orders-api.md.
//
// # Idempotency in two calls
//
// Unpaired, a POST makes two AWS calls on the happy path: Store.Begin (one
// TransactWriteItems: the ACCEPTED order record, whose id is derived from
// (owner, Idempotency-Key) and which holds the key's request hash, with the
// no-erasure check) and Queue.Send. The orders queue is FIFO and every send
// of an order carries the order id as its deduplication id, so the record
// needs no completion mark: a replay that finds the order unclaimed by any
// site re-sends it (SQS accepts the send and drops the copy when the first
// arrived within its 5-minute deduplication interval) and answers 202; a
// replay that finds it claimed or settled answers 202 without a send.
// Another body under the same key is 422; concurrent requests with one key
// get 202 (or 409 on DynamoDB's TransactionConflict) and queue one message.
//
// What remains: a replay more than 5 minutes after a send that reached the
// queue, while no site has claimed the order yet (a backlog of 5 minutes, or
// every site down), queues a second copy. The site stores it once (its
// claim) and deletes the copy; docs/orders-api.md states the window.
//
// A failed send answers 503 with Retry-After and the retry sends (there is
// no lease to wait for). A send that timed out after SQS accepted it is the
// same case: the retry's copy is dropped.
//
// Keys seen by a release before this one live in IDEM# records (random
// order ids, a 24-hour TTL): Begin's transaction checks that the key has
// none (ordertable.NoLegacyIdem), and one found is answered from (replayed,
// 409 while its lease lives, taken over after), so a key retried across the
// upgrade meets its order.
//
// # Zone pairs
//
// With PAIR_REGION set (Config.Pair, checked by package zonepair) the
// region serves its own users and its partner's, always, and nobody else's:
// identify, the one token check of every route, accepts a custom:region
// that pair.Serves and answers any other 403 WRONG_REGION with homeRegion.
// The order is still sent to this region's queue, and its message and the
// 202 name this region (the serving one).
//
// Both regions of a pair use one orders table, a DynamoDB global table with
// multi-Region strong consistency, which has no transactions and no TTL.
// There the Store is a PairStore: an order's id is derived from (owner,
// Idempotency-Key), and the order's status record holds its idempotency
// lease, so Begin is a strongly consistent GetItem of the owner's erasure
// record and one conditional PutItem, and POST makes four calls instead of
// two: the two regions' queues do not share deduplication, so the record
// keeps a lease and a completion mark (Store.MarksSent): same key and body,
// the same order; live lease: 409; other body: 422; abandoned: taken over
// with the same id; erased owner: 403, in either region: a key retried at
// the partner after a lost answer meets the same record.
//
// # Erasure
//
// DELETE /me asks for the caller's erasure (GDPR Art. 17): one conditional
// PutItem writes the erasure record (ordertable.RequestErasure, keyed by a
// pseudonym of the sub) unless one exists, and 202 answers with the erasure
// that holds, so a repeated or concurrent request gets the same erasureId
// and its current status. GET /me/erasure reads it (one strongly consistent
// GetItem; 404 NO_ERASURE when none). Both take the token checks of POST
// /orders (an ID token of this region). The erasure worker does the rest.
//
// Once the record exists, POST /orders answers 403 ACCOUNT_ERASED and
// writes and sends nothing, so the worker's list of the owner's orders is
// complete. The check costs no extra call: Begin's TransactWriteItems
// carries it as a ConditionCheck that the erasure record does not exist
// (ordertable.NoErasure), evaluated atomically with the order record's put.
// DynamoDB reports each item's cancellation reason, so a failed check is
// told apart from a taken key, and wins over it: a replay of an erased
// owner's key is 403 too, never a 202 replay nor a takeover and send.
// Logs name the erasure id, never the user.
package ordersapi

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/homeregion/homeregion/shared/awsname"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/sealed"
	"github.com/homeregion/homeregion/shared/zonepair"
)

// Defaults of the Handler's tunables.
const (
	// DefaultLease is how long an in-flight idempotency record blocks its
	// key. It must exceed the longest time an invocation can spend between
	// writing the record and finishing the send (the function timeout);
	// the handler never starts a send after half of it has passed.
	DefaultLease = 30 * time.Second
)

// Handler serves the orders API. Build it with New (explicit dependencies)
// or NewFromAWS (the SDK clients from one aws.Config). The exported fields
// are tunables with defaults; set them, if at all, before the first
// request. A Handler is safe for concurrent use.
type Handler struct {
	region string           // this region (AWS_REGION): the one that serves
	pair   zonepair.Pair    // the regions whose users this one serves (pair.Serves)
	key    sealed.PublicKey // the sites' public key (SITE_PUBLIC_KEY)
	store  Store            // the orders table
	queue  Queue            // the orders queue
	log    *slog.Logger     // never nil

	Now   func() time.Time // default time.Now
	NewID func() string    // order ids and claim tokens; default NewID

	Lease time.Duration // default DefaultLease
}

// answerReserve is the time kept before the invocation's deadline to answer.
const answerReserve = time.Second

// New returns the Handler for region, unpaired (it serves region's users
// only), sealing orders to key, over store and queue; log nil means
// slog.Default(). A malformed region, a zero key or a missing store or queue
// is an error: a wiring mistake fails the cold start, never a request.
func New(region string, key sealed.PublicKey, store Store, queue Queue, log *slog.Logger) (*Handler, error) {
	return NewForPair(zonepair.Pair{Region: region}, key, store, queue, log)
}

// NewForPair is New for the region pair.Region in its zone pair (a pair
// without Partner: unpaired): it serves the users whose home pair.Serves.
// The pair is checked by package zonepair (zonepair.FromEnv, in ParseEnv).
func NewForPair(pair zonepair.Pair, key sealed.PublicKey, store Store, queue Queue, log *slog.Logger) (*Handler, error) {
	region := pair.Region
	switch {
	case !awsname.Region(region):
		return nil, fmt.Errorf("ordersapi: invalid region %q", region)
	case pair.Paired() && (!awsname.Region(pair.Partner) || pair.Partner == region):
		return nil, fmt.Errorf("ordersapi: invalid partner region %q", pair.Partner)
	case key.KeyID() == "":
		return nil, errors.New("ordersapi: no site public key")
	case store == nil:
		return nil, errors.New("ordersapi: no Store")
	case queue == nil:
		return nil, errors.New("ordersapi: no Queue")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Handler{region: region, pair: pair, key: key, store: store, queue: queue, log: log}, nil
}

// Route keys, as API Gateway sets them in RouteKey.
const (
	RouteCreate  = "POST /orders"
	RouteGet     = "GET /orders/{orderId}"
	RouteEraseMe = "DELETE /me"
	RouteErasure = "GET /me/erasure"
)

// Handle serves one HTTP API (payload v2) request. It always answers with a
// response and a nil error: every failure is an HTTP status with the JSON
// error shape, never an invocation error.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	start := time.Now()
	// Keep time to answer (and to release a lease) before Lambda's deadline.
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) > 2*answerReserve {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-answerReserve))
		defer cancel()
	}
	route, id, err := h.route(req)
	var resp events.APIGatewayV2HTTPResponse
	if err == nil {
		switch route {
		case RouteCreate:
			resp, err = h.create(ctx, req)
		case RouteGet:
			resp, err = h.get(ctx, req, id)
		case RouteEraseMe:
			resp, err = h.eraseMe(ctx, req)
		case RouteErasure:
			resp, err = h.erasure(ctx, req)
		}
	}
	if err != nil {
		resp = h.errorResponse(ctx, err)
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "request",
		slog.String("route", route),
		slog.Int("status", resp.StatusCode),
		slog.Duration("duration", time.Since(start)))
	return resp, nil
}

// route finds the route: API Gateway's RouteKey when it names one of ours,
// else the method and path (the $default route, the local stack, tests).
func (h *Handler) route(req events.APIGatewayV2HTTPRequest) (route, id string, err error) {
	switch req.RouteKey {
	case RouteCreate, RouteEraseMe, RouteErasure:
		return req.RouteKey, "", nil
	case RouteGet:
		if id = req.PathParameters["orderId"]; id != "" {
			return RouteGet, id, nil
		}
	}
	method := strings.ToUpper(req.RequestContext.HTTP.Method)
	if method == "" {
		if m, _, ok := strings.Cut(req.RouteKey, " "); ok {
			method = m
		}
	}
	path := req.RawPath
	if path == "" {
		path = req.RequestContext.HTTP.Path
	}
	if st := req.RequestContext.Stage; st != "" && st != "$default" {
		path = strings.TrimPrefix(path, "/"+st)
	}
	path = strings.TrimSuffix(path, "/")
	switch {
	case path == "/orders":
		if method != "POST" {
			return "", "", &apiError{status: 405, code: "METHOD_NOT_ALLOWED",
				msg: "use POST on /orders", headers: map[string]string{"Allow": "POST"}}
		}
		return RouteCreate, "", nil
	case strings.HasPrefix(path, "/orders/") && !strings.Contains(path[len("/orders/"):], "/"):
		if method != "GET" {
			return "", "", &apiError{status: 405, code: "METHOD_NOT_ALLOWED",
				msg: "use GET on /orders/{orderId}", headers: map[string]string{"Allow": "GET"}}
		}
		return RouteGet, path[len("/orders/"):], nil
	case path == "/me":
		if method != "DELETE" {
			return "", "", &apiError{status: 405, code: "METHOD_NOT_ALLOWED",
				msg: "use DELETE on /me", headers: map[string]string{"Allow": "DELETE"}}
		}
		return RouteEraseMe, "", nil
	case path == "/me/erasure":
		if method != "GET" {
			return "", "", &apiError{status: 405, code: "METHOD_NOT_ALLOWED",
				msg: "use GET on /me/erasure", headers: map[string]string{"Allow": "GET"}}
		}
		return RouteErasure, "", nil
	}
	return "", "", &apiError{status: 404, code: "NOT_FOUND", msg: "no such route"}
}

// caller returns the owner (sub) from the token, after identify's checks.
func (h *Handler) caller(req events.APIGatewayV2HTTPRequest) (string, error) {
	id, err := h.identify(req)
	return id.sub, err
}

// identity is the caller as their token names them.
type identity struct {
	sub  string // the owner: the token's sub
	home string // the home region: the token's custom:region, one this region serves
}

// identify is the one place a token is checked (every route goes through
// it): an ID token with a sub and a custom:region this region serves
// (h.pair.Serves: this region or its partner); any other home is 403
// WRONG_REGION naming the home region.
func (h *Handler) identify(req events.APIGatewayV2HTTPRequest) (identity, error) {
	var claims map[string]string
	if a := req.RequestContext.Authorizer; a != nil && a.JWT != nil {
		claims = a.JWT.Claims
	}
	sub := claims["sub"]
	if sub == "" || len(sub) > 128 || strings.ContainsFunc(sub, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return identity{}, &apiError{status: 401, code: "UNAUTHENTICATED", msg: "the token has no valid sub claim"}
	}
	// API Gateway's JWT authorizer also passes a Cognito access token of the
	// app client (it checks client_id when there is no aud). The API takes ID
	// tokens only: an access token has no custom:region or email claims.
	if use := claims["token_use"]; use != "" && use != "id" {
		return identity{}, &apiError{status: 403, code: "ID_TOKEN_REQUIRED",
			msg: "this API takes the ID token from sign-in (AuthenticationResult.IdToken), not an access token"}
	}
	home, ok := claims["custom:region"]
	switch {
	case !ok || home == "":
		return identity{}, &apiError{status: 403, code: "MISSING_REGION_CLAIM", msg: "the token has no custom:region claim"}
	case !awsname.Region(home):
		return identity{}, &apiError{status: 403, code: "INVALID_REGION_CLAIM", msg: "the token's custom:region claim is not a region"}
	case !h.pair.Serves(home):
		return identity{}, &apiError{status: 403, code: "WRONG_REGION", homeRegion: home,
			msg: "this account's data lives in " + home + ": use the API in that region"}
	case h.pair.Paired() && !issuedFor(claims["iss"], home):
		// Two pools' tokens reach a paired region: each must name its own
		// pool's region, or a user of one could act as the other's.
		return identity{}, &apiError{status: 403, code: "INVALID_REGION_CLAIM", msg: "the token's custom:region claim is not its user pool's region"}
	}
	return identity{sub: sub, home: home}, nil
}

// issuedFor reports whether a token whose issuer is iss may name home as
// its region: a Cognito issuer ends in the pool id, whose region prefix is
// the pool's primary region (a replica keeps it), and a user's home is the
// region of the pool that signed them up (PreSignUp refuses any other
// custom:region; this also holds for users imported or created without
// the trigger). An absent iss (the authorizer always passes it) is not
// judged here.
func issuedFor(iss, home string) bool {
	if iss == "" {
		return true
	}
	r, ok := zonepair.PoolRegion(iss[strings.LastIndex(iss, "/")+1:])
	return ok && r == home
}

// apiError is an error that is already an HTTP answer.
type apiError struct {
	status     int
	code       string
	msg        string
	homeRegion string
	headers    map[string]string
}

func (e *apiError) Error() string { return strconv.Itoa(e.status) + " " + e.code + ": " + e.msg }

// errorBody is the contract's error shape.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	HomeRegion string `json:"homeRegion,omitempty"`
}

// errorResponse is the one place errors become responses.
func (h *Handler) errorResponse(ctx context.Context, err error) events.APIGatewayV2HTTPResponse {
	var ae *apiError
	var ve *orders.ValidationError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &ve):
		ae = &apiError{status: 400, code: ve.Code, msg: ve.Message}
	case errors.Is(err, ErrErased):
		ae = &apiError{status: 403, code: "ACCOUNT_ERASED",
			msg: "this account's erasure was requested: it accepts no new orders"}
	case errors.Is(err, ErrBusy):
		ae = &apiError{status: 409, code: "REQUEST_IN_PROGRESS",
			msg: "a request with this Idempotency-Key is in progress; retry later", headers: retryAfter(1)}
	case errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		h.log.LogAttrs(ctx, slog.LevelError, "dependency failed", slog.String("error", err.Error()))
		ae = &apiError{status: 503, code: "SERVICE_UNAVAILABLE",
			msg: "the service is temporarily unavailable; retry with the same Idempotency-Key", headers: retryAfter(1)}
	default:
		h.log.LogAttrs(ctx, slog.LevelError, "internal error", slog.String("error", err.Error()))
		ae = &apiError{status: 500, code: "INTERNAL", msg: "internal error; retry with the same Idempotency-Key"}
	}
	resp := jsonResponse(ae.status, errorBody{errorDetail{Code: ae.code, Message: ae.msg, HomeRegion: ae.homeRegion}})
	for k, v := range ae.headers {
		resp.Headers[k] = v
	}
	return resp
}

func retryAfter(seconds int) map[string]string {
	return map[string]string{"Retry-After": strconv.Itoa(seconds)}
}

// jsonResponse encodes v (always encodable: fixed types of strings).
func jsonResponse(status int, v any) events.APIGatewayV2HTTPResponse {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"error":{"code":"INTERNAL","message":"internal error"}}`)
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		Body:       string(b),
	}
}

// header returns the request header name (API Gateway lower-cases names;
// other callers may not).
func header(req events.APIGatewayV2HTTPRequest, name string) (string, bool) {
	if v, ok := req.Headers[name]; ok {
		return v, true
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now().UTC()
	}
	return time.Now().UTC()
}

func (h *Handler) newID() string {
	if h.NewID != nil {
		return h.NewID()
	}
	return NewID()
}

func (h *Handler) lease() time.Duration {
	if h.Lease > 0 {
		return h.Lease
	}
	return DefaultLease
}

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// NewID returns a random 128-bit id: 26 characters of [0-9a-v].
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics or blocks instead)
	return idEncoding.EncodeToString(b[:])
}
