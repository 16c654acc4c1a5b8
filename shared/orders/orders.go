// Package orders holds the order contract shared by the orders API and the
// on-prem processor: the order body, the queue message envelope and the
// order statuses. It knows no storage: the orders table is package
// ordertable's.
package orders

import (
	"errors"
	"time"
)

// Item is one order line.
type Item struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// Address is a delivery address (PII: it travels only in the encrypted queue
// to the on-prem site and is never logged or stored in the cloud).
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	PostalCode string `json:"postalCode"`
	Country    string `json:"country"`
}

// Order is the body of POST /orders.
type Order struct {
	Items           []Item  `json:"items"`
	DeliveryAddress Address `json:"deliveryAddress"`
	Note            string  `json:"note,omitempty"`
}

// The queue message versions.
const (
	// EnvelopeVersion is the plaintext version 1 (Envelope), being replaced
	// by SealedVersion: sites still read it while version 1 messages may
	// remain in a queue.
	EnvelopeVersion = 1
	// SealedVersion is version 2 (SealedEnvelope): the order sealed to the
	// sites' public key (package sealed).
	SealedVersion = 2
)

// Box is a sealed order as a version 2 message carries it: the id of the
// key it is sealed to and the ciphertext (package sealed).
type Box struct {
	KeyID      string `json:"kid"`
	Ciphertext string `json:"ct"`
}

// SealedEnvelope is the version 2 queue message body:
// {"version":2,"orderId","region","owner","createdAt","sealed":{"kid","ct"}}.
// Nothing of the order itself is readable in it.
type SealedEnvelope struct {
	Version   int       `json:"version"`
	OrderID   string    `json:"orderId"`
	Region    string    `json:"region"`
	Owner     string    `json:"owner"`
	CreatedAt time.Time `json:"createdAt"`
	Sealed    Box       `json:"sealed"`
}

// Envelope is an order as a site receives it, opened: the version 1 message
// body {"version":1,"orderId","region","owner","createdAt","order":{...}},
// and what a version 2 message opens to (its Version stays 2).
type Envelope struct {
	Version   int       `json:"version"`
	OrderID   string    `json:"orderId"`
	Region    string    `json:"region"`
	Owner     string    `json:"owner"`
	CreatedAt time.Time `json:"createdAt"`
	Order     Order     `json:"order"`
}

// MessageAttrOrderID is the SQS message attribute carrying the order id, so a
// consumer can log and route a message without parsing its body.
const MessageAttrOrderID = "orderId"

// Status is an order's processing status. Statuses only move forward.
type Status string

// The statuses, in the only order they may be reached. COMPLETED and FAILED
// are both terminal: each is reached only from ACCEPTED and neither moves to
// the other. StatusErased (erasure.go) replaces any of them when the owner
// is erased.
const (
	StatusAccepted  Status = "ACCEPTED"
	StatusCompleted Status = "COMPLETED" // stored in the site database
	// StatusFailed: the site can never store the order (its database refuses
	// the data, or the queue message is malformed); the message goes on to
	// the dead-letter queue, whose alarm notifies an operator.
	StatusFailed Status = "FAILED"
)

// rank orders the statuses; 0 is unknown, equal ranks are alternatives.
func (s Status) rank() int {
	switch s {
	case StatusAccepted:
		return 1
	case StatusCompleted, StatusFailed, StatusErased:
		return 2
	}
	return 0
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return s.rank() > 0 }

// Before reports whether s comes strictly before t (an allowed transition s → t).
func (s Status) Before(t Status) bool { return s.Valid() && t.Valid() && s.rank() < t.rank() }

// ErrUnknownOrder reports that no order with the given id exists.
var ErrUnknownOrder = errors.New("orders: unknown order")

// TimeFormat is how the API and the envelope write timestamps.
const TimeFormat = time.RFC3339Nano
