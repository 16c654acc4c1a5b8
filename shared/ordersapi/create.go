package ordersapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"mime"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
	"github.com/homeregion/homeregion/shared/sealed"
	"github.com/homeregion/homeregion/shared/tracing"
)

// MaxIdempotencyKeyLen is the longest Idempotency-Key accepted.
const MaxIdempotencyKeyLen = 128

// acceptedBody is the 202 answer of POST /orders.
type acceptedBody struct {
	OrderID string        `json:"orderId"`
	Status  orders.Status `json:"status"`
	Region  string        `json:"region"`
}

// create serves POST /orders.
//
// Happy path, unpaired: Store.Begin (DynamoStore: one TransactWriteItems
// writing the ACCEPTED order record, which holds the key's idempotency
// state, conditional on the key having none, with the checks that the owner
// has no erasure record, ErrErased, 403, and that the key has no legacy
// record) and Queue.Send: two calls. In a zone pair (PairStore, MarksSent):
// the erasure record's GetItem, one conditional PutItem, the send and
// Store.Complete (one UpdateItem), so that a retry at the partner, whose
// queue does not deduplicate this one's, can tell "sent" from "abandoned
// before sending" (see the package documentation).
func (h *Handler) create(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	who, err := h.identify(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	owner := who.sub
	if err := jsonContentType(req); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	key, err := idempotencyKey(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	body, err := requestBody(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	order, err := orders.DecodeOrder(body)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	hash, err := requestHash(key, order)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}

	now := h.now()
	idemKey := ordertable.IdemKey(owner, key)
	rec := IdemRecord{
		Key:         idemKey,
		Owner:       owner,
		RequestHash: hash,
		OrderID:     ordertable.KeyOrderID(idemKey),
		State:       IdemInFlight,
		Token:       h.newID(),
		LeaseUntil:  now.Add(h.lease()),
		CreatedAt:   now,
	}
	err = h.store.Begin(ctx, rec, OrderRecord{ID: rec.OrderID, Owner: owner, Status: orders.StatusAccepted, CreatedAt: now, UpdatedAt: now})
	// leased: this attempt holds the record's lease, to be completed after
	// the send (or released when it fails).
	leased := h.store.MarksSent()
	var taken *KeyTakenError
	switch {
	case err == nil:
	case errors.As(err, &taken) && taken.Existing.Token == rec.Token:
		// Our own write, committed on an attempt whose answer was lost and
		// then retried by the SDK: the records are ours, carry on.
	case errors.As(err, &taken):
		ex := taken.Existing
		switch {
		case ex.Owner != owner || ex.RequestHash != rec.RequestHash:
			return events.APIGatewayV2HTTPResponse{}, &apiError{status: 422, code: "IDEMPOTENCY_KEY_REUSED",
				msg: "this Idempotency-Key was used with a different request body"}
		case ex.State == IdemComplete:
			h.log.LogAttrs(ctx, slog.LevelInfo, "order replayed", slog.String("orderId", ex.OrderID))
			return h.accepted(ex.OrderID), nil
		case ex.State == IdemUnconfirmed:
			// Sent or not, nobody can tell; no site has claimed it yet.
			// Send the same order (same id, createdAt and deduplication
			// id): the FIFO queue drops it if the first send arrived
			// within its deduplication interval.
			rec.OrderID, rec.CreatedAt = ex.OrderID, ex.CreatedAt
			leased = false
			h.log.LogAttrs(ctx, slog.LevelInfo, "order re-sent (the queue drops a duplicate)", slog.String("orderId", rec.OrderID))
		case now.Before(ex.LeaseUntil):
			wait := int(math.Ceil(ex.LeaseUntil.Sub(now).Seconds()))
			return events.APIGatewayV2HTTPResponse{}, &apiError{status: 409, code: "REQUEST_IN_PROGRESS",
				msg: "a request with this Idempotency-Key is in progress; retry later", headers: retryAfter(min(max(wait, 1), 5))}
		default:
			// The attempt holding the leased record (a pair's, or a legacy
			// one of an earlier release) failed or died before completing:
			// take it over and send the same order (same id and createdAt).
			rec.OrderID, rec.CreatedAt = ex.OrderID, ex.CreatedAt
			if err := h.store.Reclaim(ctx, rec.Key, ex.Token, rec.Token, rec.LeaseUntil); err != nil {
				if errors.Is(err, ErrClaimLost) {
					return events.APIGatewayV2HTTPResponse{}, ErrBusy
				}
				return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("reclaim order %s: %w", rec.OrderID, err)
			}
			leased = true
			h.log.LogAttrs(ctx, slog.LevelInfo, "order reclaimed", slog.String("orderId", rec.OrderID))
		}
	default:
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("begin order: %w", err)
	}

	if err := h.send(ctx, rec, owner, order); err != nil {
		if leased {
			// Let a retry proceed at once; if this fails too, the lease runs out.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), answerReserve/2)
			if rerr := h.store.Release(rctx, rec.Key, rec.Token); rerr != nil {
				h.log.LogAttrs(ctx, slog.LevelWarn, "release idempotency record", slog.String("orderId", rec.OrderID), slog.String("error", rerr.Error()))
			}
			cancel()
		}
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("send order %s: %w", rec.OrderID, err)
	}
	// Unleased, nothing is marked: a replay re-sends, the queue deduplicates.
	if leased {
		if err := h.store.Complete(ctx, rec.Key, rec.Token); err != nil {
			// The message is in the queue, so the answer is 202. The record
			// stays in flight: a replay after the lease re-sends the same
			// order id (a duplicate the processor drops: the order has one
			// claim and one row).
			h.log.LogAttrs(ctx, slog.LevelWarn, "complete idempotency record", slog.String("orderId", rec.OrderID), slog.String("error", err.Error()))
		}
	}
	attrs := []slog.Attr{slog.String("orderId", rec.OrderID)}
	if who.home != h.region {
		attrs = append(attrs, slog.String("homeRegion", who.home)) // a partner's user
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "order accepted", attrs...)
	return h.accepted(rec.OrderID), nil
}

// send enqueues the order as a version 2 message, sealed to the sites' key
// (a replay of the same order id seals it afresh: the ciphertext differs,
// the order does not), never starting after half the lease: past the lease
// another request may take the record over and send too.
func (h *Handler) send(ctx context.Context, rec IdemRecord, owner string, order orders.Order) error {
	deadline := rec.LeaseUntil.Add(-h.lease() / 2)
	if !h.now().Before(deadline) {
		return fmt.Errorf("%w: lease nearly over before send", ErrUnavailable)
	}
	m, err := sealed.SealEnvelope(h.key, orders.Envelope{
		Version:   orders.SealedVersion,
		OrderID:   rec.OrderID,
		Region:    h.region,
		Owner:     owner,
		CreatedAt: rec.CreatedAt,
		Order:     order,
	})
	if err != nil {
		return fmt.Errorf("seal envelope: %w", err)
	}
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode envelope: %w", err)
	}
	sctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	return h.queue.Send(sctx, Message{Body: string(body), OrderID: rec.OrderID, TraceHeader: tracing.Header(ctx)})
}

func (h *Handler) accepted(id string) events.APIGatewayV2HTTPResponse {
	resp := jsonResponse(202, acceptedBody{OrderID: id, Status: orders.StatusAccepted, Region: h.region})
	resp.Headers["Location"] = "/orders/" + id
	return resp
}

// requestHash is the hex SHA-256 of the Idempotency-Key and the order's
// canonical JSON (struct field order, no insignificant whitespace): equal
// orders hash alike however the client formatted them. The key (which the
// table never stores in clear) salts the hash, so the hash of an order's
// address cannot be confirmed by hashing guessed addresses.
func requestHash(key string, o orders.Order) (string, error) {
	canonical, err := json.Marshal(o)
	if err != nil {
		return "", fmt.Errorf("encode order: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(key))
	h.Write([]byte{'\n'})
	h.Write(canonical)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])), nil
}

// idempotencyKey returns the request's valid Idempotency-Key.
func idempotencyKey(req events.APIGatewayV2HTTPRequest) (string, error) {
	key, ok := header(req, "idempotency-key")
	if !ok || key == "" {
		return "", &apiError{status: 400, code: "MISSING_IDEMPOTENCY_KEY", msg: "the Idempotency-Key header is required"}
	}
	if len(key) > MaxIdempotencyKeyLen {
		return "", &apiError{status: 400, code: "INVALID_IDEMPOTENCY_KEY", msg: "Idempotency-Key must be 1 to 128 characters of A-Z, a-z, 0-9, _ and -"}
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return "", &apiError{status: 400, code: "INVALID_IDEMPOTENCY_KEY", msg: "Idempotency-Key must be 1 to 128 characters of A-Z, a-z, 0-9, _ and -"}
		}
	}
	return key, nil
}

// requestBody returns the body, base64-decoded if API Gateway encoded it,
// within orders.MaxBodyBytes.
// errUnsupportedMediaType answers a POST /orders whose Content-Type is not JSON.
var errUnsupportedMediaType = &apiError{status: 415, code: "UNSUPPORTED_MEDIA_TYPE",
	msg: "Content-Type must be application/json (charset, if given, utf-8)"}

// jsonContentType requires the media type application/json (compared without
// regard to case); parameters are allowed, but a charset must be utf-8.
func jsonContentType(req events.APIGatewayV2HTTPRequest) error {
	v, ok := header(req, "content-type")
	if !ok {
		return errUnsupportedMediaType
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil || mt != "application/json" {
		return errUnsupportedMediaType
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return errUnsupportedMediaType
	}
	return nil
}

func requestBody(req events.APIGatewayV2HTTPRequest) ([]byte, error) {
	tooLarge := &apiError{status: 413, code: "PAYLOAD_TOO_LARGE", msg: fmt.Sprintf("the body must be at most %d bytes", orders.MaxBodyBytes)}
	if !req.IsBase64Encoded {
		if len(req.Body) > orders.MaxBodyBytes {
			return nil, tooLarge
		}
		return []byte(req.Body), nil
	}
	if base64.StdEncoding.DecodedLen(len(req.Body)) > orders.MaxBodyBytes+2 {
		return nil, tooLarge
	}
	b, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, &apiError{status: 400, code: "INVALID_BODY_ENCODING", msg: "the body is not valid base64"}
	}
	if len(b) > orders.MaxBodyBytes {
		return nil, tooLarge
	}
	return b, nil
}
