package httpdelivery

import (
	"time"

	"github.com/homeregion/homeregion/shared/orders"
)

// The request's fixed headers besides Content-Type: application/json. They
// are part of the endpoint contract.
const (
	// HeaderIdempotencyKey carries the order id: the same on every attempt,
	// every redelivery and every processor, so the endpoint de-duplicates
	// by it.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderAttempt carries the attempt number, 1-based within one Deliver
	// call (it starts again at 1 on a redelivery).
	HeaderAttempt = "Homeregion-Attempt"
	// UserAgent is the User-Agent of every request.
	UserAgent = "homeregion-processor"
)

// Payload is the JSON body POSTed for every order, the contract with the
// endpoint: the queue envelope without its version,
//
//	{"orderId":"…","region":"eu-west-1","owner":"…","createdAt":"2026-01-02T03:04:05Z",
//	 "order":{"items":[{"sku":"AB-12","quantity":1}],"deliveryAddress":{…},"note":"…"}}
//
// order is the body of the orders API's POST /orders (orders.Order); it
// holds the delivery address, which is PII. Fields may be added, never
// renamed or removed; an endpoint ignores fields it does not know.
type Payload struct {
	OrderID string `json:"orderId"` // equal to the Idempotency-Key header
	Region  string `json:"region"`  // the home region that accepted the order
	Owner   string `json:"owner"`   // the ordering user's Cognito sub
	// CreatedAt is when the orders API accepted the order: RFC 3339 in UTC,
	// with fractional seconds when there are any.
	CreatedAt time.Time    `json:"createdAt"`
	Order     orders.Order `json:"order"`
}

// NewPayload is o's Payload.
func NewPayload(o orders.Envelope) Payload {
	return Payload{OrderID: o.OrderID, Region: o.Region, Owner: o.Owner, CreatedAt: o.CreatedAt.UTC(), Order: o.Order}
}
