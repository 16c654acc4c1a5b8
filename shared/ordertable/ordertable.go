// Package ordertable owns the regional orders table (ORDERS_TABLE): its item
// layout and the deployed code's reads and writes of it. template.yaml's OrdersTable declares
// the key schema this package assumes: one string partition key, AttrPK, and
// TTL on AttrExpiresAt.
//
// The table holds these kinds of items, status metadata only (the order
// itself, which carries PII, never enters the table):
//
//	ORDER#<id>   an order's status record: owner, status, createdAt, updatedAt,
//	             and the hash of the POST /orders request that created it.
//	             The id is derived from the request's idempotency key
//	             (KeyOrderID), so every attempt with one key meets this one
//	             record, which carries the key's idempotency state too
//	             (KeyedOrder, KeyedLayout): one conditional write creates both.
//	             Claimed by the one on-prem consumer that processes it (Claim:
//	             claim, claimStore, claimedAt), settled COMPLETED or FAILED
//	             (Settle), read by GET /orders/{id} (Get).
//	             When its owner is erased, the worker replaces it with a
//	             tombstone without owner (status ERASED), which no consumer
//	             can claim and Get reports as unknown.
//	IDEM#<hash>  a legacy idempotency record (IdemLayout, Idem), written by
//	             releases before order ids were derived from keys: an order
//	             record with a random id. No longer written; read until its
//	             TTL (24 hours) so that a key replayed across the upgrade
//	             still meets its order (NoLegacyIdem).
//	ERASURE#…, SITES  the erasure records and the site databases (erasure.go).
//
// In a zone pair (PAIR_REGION set) ORDERS_TABLE is the pair's global table
// with multi-Region strong consistency, which has neither transactions nor
// TTL; the order records are the same. The processor's Claim and Settle,
// Get and the erasure worker's owner index serve them alike.
//
// Instants are RFC 3339 strings in UTC (ddbattr.Time), except the lease's
// epoch milliseconds and the TTL's epoch seconds.
package ordertable

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/ddbattr"
	"github.com/homeregion/homeregion/shared/lease"
	"github.com/homeregion/homeregion/shared/orders"
)

// Attribute names.
const (
	AttrPK          = "pk"          // partition key: OrderKey(id) or an idempotency key
	AttrOwner       = "owner"       // the owner's Cognito sub
	AttrStatus      = "status"      // an orders.Status (status records)
	AttrCreatedAt   = "createdAt"   // RFC 3339, UTC
	AttrUpdatedAt   = "updatedAt"   // RFC 3339, UTC (status records)
	AttrExpiresAt   = "expiresAt"   // epoch seconds; the table's TTL attribute
	AttrRequestHash = "requestHash" // hex SHA-256 of the request (idempotency records)
	AttrOrderID     = "orderId"     // the order an idempotency key created
	AttrClaim       = "claim"       // the claim token of the consumer that took the order (Claim)
	AttrClaimStore  = "claimStore"  // the site database that claim belongs to
	AttrClaimedAt   = "claimedAt"   // RFC 3339, UTC: when it was claimed
)

// OrderKey is the partition key of order id's status record.
func OrderKey(id string) string { return "ORDER#" + id }

// IdemKey is the partition key of the idempotency record of (owner, key):
// "IDEM#" + base64url(SHA-256(owner "\n" key)). Hashing keeps client-chosen
// strings out of the key space and bounds its length.
func IdemKey(owner, key string) string {
	h := sha256.New()
	h.Write([]byte(owner))
	h.Write([]byte{'\n'})
	h.Write([]byte(key))
	var sum [sha256.Size]byte
	return "IDEM#" + base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0]))
}

// ErrCorrupt reports an item that does not follow the layout.
var ErrCorrupt = errors.New("ordertable: corrupt item")

// Order is an order's status record.
type Order struct {
	ID        string
	Owner     string
	Status    orders.Status
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Create is the conditional put of o's status record, which must not exist
// yet, for a transaction (see lease.Table.AcquireWith): the record as
// releases before derived order ids wrote it, beside an IDEM# record. The
// orders API writes KeyedOrder records now; tests recreate that earlier
// state with it.
func Create(table string, o Order) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(table),
		Item: map[string]types.AttributeValue{
			AttrPK:        ddbattr.S(OrderKey(o.ID)),
			AttrOwner:     ddbattr.S(o.Owner),
			AttrStatus:    ddbattr.S(string(o.Status)),
			AttrCreatedAt: ddbattr.Time(o.CreatedAt),
			AttrUpdatedAt: ddbattr.Time(o.UpdatedAt),
		},
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
	}}
}

// NoLegacyIdem is the check, for a transaction, that idempotency key idemKey
// has no live legacy record (IDEM#…, IdemLayout: absent or past its TTL at
// now). When it fails, DynamoDB returns the record with the cancellation
// reason (ReturnValuesOnConditionCheckFailure ALL_OLD), so the caller can
// answer from it without another call.
func NoLegacyIdem(table, idemKey string, now time.Time) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                           aws.String(table),
		Key:                                 ddbattr.Key(AttrPK, idemKey),
		ConditionExpression:                 aws.String("attribute_not_exists(#pk) OR #exp < :now"),
		ExpressionAttributeNames:            map[string]string{"#pk": AttrPK, "#exp": AttrExpiresAt},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": ddbattr.N(now.Unix())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
}

// GetItemAPI is the part of the DynamoDB client Get uses.
type GetItemAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// Get reads order id's status record in table with one strongly consistent
// GetItem. It returns orders.ErrUnknownOrder when there is none and
// ErrCorrupt when it cannot be decoded; any other error is DynamoDB's.
func Get(ctx context.Context, db GetItemAPI, table, id string) (Order, error) {
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            ddbattr.Key(AttrPK, OrderKey(id)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Order{}, fmt.Errorf("get order %s: %w", id, err)
	}
	if len(out.Item) == 0 {
		return Order{}, fmt.Errorf("get order %s: %w", id, orders.ErrUnknownOrder)
	}
	r := ddbattr.NewReader(out.Item)
	if orders.Status(r.S(AttrStatus)) == orders.StatusErased {
		// A tombstone: its owner was erased (EraseOrder).
		return Order{}, fmt.Errorf("get order %s: %w", id, orders.ErrUnknownOrder)
	}
	o := Order{
		ID:        id,
		Owner:     r.S(AttrOwner),
		Status:    orders.Status(r.S(AttrStatus)),
		CreatedAt: r.Time(AttrCreatedAt),
		UpdatedAt: r.Time(AttrUpdatedAt),
	}
	if err := r.Err(); err != nil {
		return Order{}, fmt.Errorf("%w: order %s: %w", ErrCorrupt, id, err)
	}
	if o.Owner == "" || !o.Status.Valid() {
		return Order{}, fmt.Errorf("%w: order %s: no owner or no valid status", ErrCorrupt, id)
	}
	return o, nil
}

// UpdateItemAPI is the part of the DynamoDB client Claim and Settle use.
type UpdateItemAPI interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// ClaimResult is what Claim found or did.
type ClaimResult struct {
	// Won reports that the claim is the caller's token: made now, or made
	// by an earlier attempt with the same token (a retry, a redelivery).
	Won bool
	// Status is the order's status: ACCEPTED while it is being processed,
	// terminal once a consumer settled it.
	Status orders.Status
	// Store is the database the winning claim belongs to ("" when the
	// order was never claimed: settled FAILED as poison, or a record
	// written before claims existed).
	Store string
}

// Claim records, in order id's status record, that the consumer whose site
// database is store takes the order with claim token token: one conditional
// UpdateItem that succeeds only while the order is ACCEPTED and unclaimed,
// or already claimed with the same token. It is the cross-database decision
// of which site runs the order: the conditional write is atomic in the one
// region that owns the orders table, so of any number of consumers
// (servers, the primary and the standby site) exactly one wins, and a claim
// is never taken over (a token only ever settles its own claim).
//
// A lost claim is not an error: the result names the winner's store and the
// order's status. It returns orders.ErrUnknownOrder when the order has no
// status record.
func Claim(ctx context.Context, db UpdateItemAPI, table, id, token, store string, now time.Time) (ClaimResult, error) {
	if token == "" || store == "" {
		return ClaimResult{}, fmt.Errorf("ordertable: claim %s: empty token or store", id)
	}
	out, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(table),
		Key:                 ddbattr.Key(AttrPK, OrderKey(id)),
		UpdateExpression:    aws.String("SET #claim = :t, #claimStore = :s, #claimedAt = :now"),
		ConditionExpression: aws.String("attribute_exists(#pk) AND ((#status = :accepted AND attribute_not_exists(#claim)) OR #claim = :t)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#status": AttrStatus, "#claim": AttrClaim,
			"#claimStore": AttrClaimStore, "#claimedAt": AttrClaimedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":t": ddbattr.S(token), ":s": ddbattr.S(store), ":now": ddbattr.Time(now),
			":accepted": ddbattr.S(string(orders.StatusAccepted)),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	item := map[string]types.AttributeValue(nil)
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		if len(ccf.Item) == 0 {
			return ClaimResult{}, fmt.Errorf("claim %s: %w", id, orders.ErrUnknownOrder)
		}
		item = ccf.Item
	case err != nil:
		return ClaimResult{}, fmt.Errorf("claim %s: %w", id, err)
	default:
		item = out.Attributes // ALL_NEW: a repeated claim may find the order settled
	}
	r := ddbattr.NewReader(item)
	res := ClaimResult{Won: r.S(AttrClaim) == token, Status: orders.Status(r.S(AttrStatus)), Store: r.S(AttrClaimStore)}
	if err := r.Err(); err != nil || !res.Status.Valid() {
		return ClaimResult{}, fmt.Errorf("%w: claim %s: no valid status or claim: %v", ErrCorrupt, id, err)
	}
	return res, nil
}

// ErrClaimLost reports a Settle whose token does not hold the order's claim.
var ErrClaimLost = errors.New("ordertable: the order is claimed by another consumer")

// Settle moves order id from ACCEPTED to the terminal status `to`
// (COMPLETED or FAILED) with one conditional UpdateItem. With a token, only
// the holder of that claim may settle (Claim); with an empty token only an
// unclaimed order is settled (a poison message, which no consumer could
// claim). A repeated Settle is a no-op (nil). It returns
// orders.ErrUnknownOrder when the record does not exist, and ErrClaimLost
// when another claim holds the order or it was settled otherwise.
func Settle(ctx context.Context, db UpdateItemAPI, table, id string, to orders.Status, token string, now time.Time) error {
	if to != orders.StatusCompleted && to != orders.StatusFailed {
		return fmt.Errorf("ordertable: settle %s: %q is not a terminal status", id, to)
	}
	values := map[string]types.AttributeValue{
		":to":       ddbattr.S(string(to)),
		":now":      ddbattr.Time(now),
		":accepted": ddbattr.S(string(orders.StatusAccepted)),
	}
	cond := "attribute_exists(#pk) AND #status = :accepted AND "
	if token == "" {
		cond += "attribute_not_exists(#claim)"
	} else {
		cond += "#claim = :t"
		values[":t"] = ddbattr.S(token)
	}
	_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(table),
		Key:                                 ddbattr.Key(AttrPK, OrderKey(id)),
		UpdateExpression:                    aws.String("SET #status = :to, #updatedAt = :now"),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            map[string]string{"#pk": AttrPK, "#status": AttrStatus, "#updatedAt": AttrUpdatedAt, "#claim": AttrClaim},
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if len(ccf.Item) == 0 {
			return fmt.Errorf("settle %s %s: %w", id, to, orders.ErrUnknownOrder)
		}
		r := ddbattr.NewReader(ccf.Item)
		if orders.Status(r.S(AttrStatus)) == to && r.S(AttrClaim) == token {
			return nil // this settle, repeated (or its answer lost and retried)
		}
		return fmt.Errorf("settle %s %s: %w", id, to, ErrClaimLost)
	}
	if err != nil {
		return fmt.Errorf("settle %s %s: %w", id, to, err)
	}
	return nil
}

// IdemLayout is the idempotency records' lease layout: held while the
// order's message is being sent (IN_FLIGHT), done once it is (COMPLETE).
var IdemLayout = lease.Layout{
	Key:        AttrPK,
	State:      "state",
	Token:      "claim",
	LeaseUntil: "leaseUntil",
	ExpiresAt:  AttrExpiresAt,
	Held:       "IN_FLIGHT",
	Done:       "COMPLETE",
}

// Idem is what an idempotency record holds besides its lease: hashes, ids and
// timestamps only, never the order itself.
type Idem struct {
	Owner       string
	RequestHash string
	OrderID     string
	CreatedAt   time.Time // when the order was accepted
}

// Attrs are i's attributes, for lease.Claim.Attrs.
func (i Idem) Attrs() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrOwner:       ddbattr.S(i.Owner),
		AttrRequestHash: ddbattr.S(i.RequestHash),
		AttrOrderID:     ddbattr.S(i.OrderID),
		AttrCreatedAt:   ddbattr.Time(i.CreatedAt),
	}
}

// IdemOf reads the Idem of an idempotency record.
func IdemOf(rec lease.Record) (Idem, error) {
	r := ddbattr.NewReader(rec.Item)
	i := Idem{Owner: r.S(AttrOwner), RequestHash: r.S(AttrRequestHash), OrderID: r.S(AttrOrderID), CreatedAt: r.Time(AttrCreatedAt)}
	if err := r.Err(); err != nil {
		return Idem{}, fmt.Errorf("%w: idempotency record: %w", ErrCorrupt, err)
	}
	if i.Owner == "" || i.RequestHash == "" || i.OrderID == "" || i.CreatedAt.IsZero() {
		// A take-over re-sends the order with this createdAt: never year 1.
		return Idem{}, fmt.Errorf("%w: idempotency record: no owner, request hash, order id or createdAt", ErrCorrupt)
	}
	return i, nil
}

// AttrIdemToken is the claim token of the POST /orders attempt that wrote
// an order record (KeyedLayout). It is not AttrClaim, which belongs to the
// site that processes the order (Claim).
const AttrIdemToken = "idemToken"

// KeyedLayout is the lease layout of the idempotency state an order record
// carries (ORDER#<KeyOrderID(key)>): held while the order's message is being
// sent (IN_FLIGHT), done once it is (COMPLETE); no TTL attribute, so a key
// stays bound to its order as long as the record lives. Only a zone pair's
// orders API marks a record done (its two regions' queues share no
// deduplication); unpaired, a record stays IN_FLIGHT and a replay re-sends
// into the FIFO queue, which drops the copy.
var KeyedLayout = lease.Layout{
	Key:        AttrPK,
	State:      "state",
	Token:      AttrIdemToken,
	LeaseUntil: "leaseUntil",
	Held:       "IN_FLIGHT",
	Done:       "COMPLETE",
}

// pairIDEncoding writes a derived order id as the orders API writes its random
// ids: base32 over 0-9a-v, unpadded (26 characters for 128 bits).
var pairIDEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// KeyOrderID is the id of the order that idempotency key idemKey
// (IdemKey(owner, key)) creates: the first 128 bits of
// SHA-256("order/v2\n" + idemKey) in base32 (26 characters of 0-9a-v), so
// every attempt with one key (in either region of a pair) writes the one
// record and sends the one message id.
func KeyOrderID(idemKey string) string {
	sum := sha256.Sum256([]byte("order/v2\n" + idemKey))
	return pairIDEncoding.EncodeToString(sum[:16])
}

// KeyedOrder is an order's status record together with the hash of the
// request that created it; its lease (KeyedLayout) is package lease's.
type KeyedOrder struct {
	Order
	RequestHash string // hex SHA-256 of the request (ordersapi)
	// Claimed reports that a site has claimed the order (Claim): its
	// message was sent. Read only (KeyedOrderOf).
	Claimed bool
}

// Attrs are p's attributes for lease.Claim.Attrs: the status record's
// (Create's, without the key, which the lease writes) and the request hash.
func (p KeyedOrder) Attrs() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrOwner:       ddbattr.S(p.Owner),
		AttrStatus:      ddbattr.S(string(p.Status)),
		AttrCreatedAt:   ddbattr.Time(p.CreatedAt),
		AttrUpdatedAt:   ddbattr.Time(p.UpdatedAt),
		AttrRequestHash: ddbattr.S(p.RequestHash),
	}
}

// KeyedOrderOf reads the KeyedOrder of an order record (as package lease
// read it with KeyedLayout). An erased order's tombstone (EraseOrder) reads
// as status ERASED with no owner; any other record without owner, request
// hash, createdAt or a valid status is ErrCorrupt.
func KeyedOrderOf(rec lease.Record) (KeyedOrder, error) {
	id, ok := strings.CutPrefix(rec.Key, "ORDER#")
	if !ok || id == "" {
		return KeyedOrder{}, fmt.Errorf("%w: pair order record: key is not an order's", ErrCorrupt)
	}
	r := ddbattr.NewReader(rec.Item)
	p := KeyedOrder{Order: Order{ID: id, Owner: r.S(AttrOwner), Status: orders.Status(r.S(AttrStatus))}, RequestHash: r.S(AttrRequestHash),
		Claimed: r.S(AttrClaim) != ""}
	if p.Status == orders.StatusErased {
		return p, nil
	}
	p.CreatedAt, p.UpdatedAt = r.Time(AttrCreatedAt), r.Time(AttrUpdatedAt)
	if err := r.Err(); err != nil {
		return KeyedOrder{}, fmt.Errorf("%w: pair order %s: %w", ErrCorrupt, id, err)
	}
	if p.Owner == "" || p.RequestHash == "" || p.CreatedAt.IsZero() || !p.Status.Valid() {
		// A take-over re-sends the order with this createdAt: never year 1.
		return KeyedOrder{}, fmt.Errorf("%w: pair order %s: no owner, request hash, createdAt or valid status", ErrCorrupt, id)
	}
	return p, nil
}
