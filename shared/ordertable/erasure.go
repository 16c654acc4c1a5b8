package ordertable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/ddbattr"
	"github.com/homeregion/homeregion/shared/orders"
)

// The erasure items of the orders table:
//
//	ERASURE#<pseudonym>  one user's erasure record (Erasure), keyed by
//	                     orders.Pseudonym(sub): written once by DELETE /me or
//	                     the operator's request (RequestErasure), driven to
//	                     COMPLETED by the erasure worker. While it exists, no
//	                     new order of that owner is accepted (NoErasure).
//	                     Once COMPLETED it holds no personal data: the
//	                     subject and the temporary identity key are removed.
//	CONFIRM#<erasureId>  the site databases that carried an erasure out
//	                     (ConfirmErasure, Confirmations); the only erasure
//	                     item a site writes.
//	SITES                the site databases of the region (RegisterSite):
//	                     each must confirm an erasure before it completes.
//
// Two global secondary indexes (template.yaml's OrdersTable) serve the
// erasure worker: OwnerIndex lists every item of an owner (status records
// and idempotency records), PendingErasureIndex the erasures not yet
// completed (a sparse index on AttrErasurePending).

// Attribute names of the erasure items.
const (
	AttrErasureID      = "erasureId"      // the erasure's id (random)
	AttrRequestedAt    = "requestedAt"    // RFC 3339, UTC
	AttrCompletedAt    = "completedAt"    // RFC 3339, UTC
	AttrSubject        = "subject"        // the erased user's sub; removed at completion
	AttrVia            = "via"            // who asked: ViaUser or ViaOperator
	AttrHome           = "home"           // the user's home region: whose erasure worker carries it out
	AttrErasurePending = "erasurePending" // PendingErasureIndex's key: PendingValue until COMPLETED
	AttrConfirmed      = "confirmed"      // string set: the site databases that erased the owner (confirmations item; the completed record)
	AttrDatabases      = "databases"      // string set on SitesKey: the site databases of the region
)

// The index names (template.yaml's OrdersTable GlobalSecondaryIndexes).
const (
	// OwnerIndex: partition key AttrOwner, sort key AttrPK, keys only.
	OwnerIndex = "owner-index"
	// PendingErasureIndex: partition key AttrErasurePending, sort key
	// AttrRequestedAt, keys only; only erasures not yet COMPLETED carry
	// AttrErasurePending.
	PendingErasureIndex = "erasure-pending-index"
)

// PendingValue is AttrErasurePending's only value.
const PendingValue = "PENDING"

// SitesKey is the partition key of the item listing the site databases.
const SitesKey = "SITES"

// ErasureKey is the partition key of owner's erasure record.
func ErasureKey(owner string) string { return "ERASURE#" + orders.Pseudonym(owner) }

// ErasureStatus is the status of an erasure, as GET /me/erasure shows it.
type ErasureStatus string

// The erasure statuses, in order.
const (
	ErasureAccepted   ErasureStatus = "ACCEPTED"    // recorded; nothing erased yet
	ErasureInProgress ErasureStatus = "IN_PROGRESS" // the worker has started
	ErasureCompleted  ErasureStatus = "COMPLETED"   // every place is clean
)

// Valid reports whether s is a known erasure status.
func (s ErasureStatus) Valid() bool {
	return s == ErasureAccepted || s == ErasureInProgress || s == ErasureCompleted
}

// Who asked for an erasure (AttrVia).
const (
	ViaUser     = "user"     // DELETE /me
	ViaOperator = "operator" // the operator's request for an address
)

// Erasure is an erasure record as the API and the sites read it (the
// worker's own attributes are package erasure's).
type Erasure struct {
	ID          string
	Status      ErasureStatus
	Via         string
	Home        string // the user's home region; "" in records written before zone pairs (see IsHome)
	RequestedAt time.Time
	UpdatedAt   time.Time
	CompletedAt time.Time // zero until COMPLETED
	Confirmed   []string  // site databases that confirmed
}

// IsHome reports whether region is e's home region, whose erasure worker
// alone carries e out: e's Home, or, for a record written without one
// (before zone pairs), the reading worker's own region. In a zone pair both
// regions' workers see both regions' records in the one pair table; each
// leaves the other's alone.
func (e Erasure) IsHome(region string) bool {
	return e.Home == "" || e.Home == region
}

// ErrNoErasure reports that an owner has no erasure record.
var ErrNoErasure = errors.New("ordertable: no erasure for this user")

// PutItemAPI is the part of the DynamoDB client RequestErasure uses.
type PutItemAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// RequestErasure records that owner, whose home region is home, is to be
// erased, with id, unless an erasure of owner exists: one conditional
// PutItem. home (AttrHome) names the region whose erasure worker carries it
// out (DELETE /me: the token's custom:region, which in a zone pair may be
// the partner of the region that serves the request; the operator: the
// worker's region); "" writes none (IsHome). It returns the erasure that
// holds afterwards and whether this call created it, so a repeated or
// concurrent request returns the first one.
func RequestErasure(ctx context.Context, db PutItemAPI, table, owner, id, via, home string, now time.Time) (Erasure, bool, error) {
	if owner == "" || id == "" || (via != ViaUser && via != ViaOperator) {
		return Erasure{}, false, fmt.Errorf("ordertable: request erasure: empty owner or id, or unknown via %q", via)
	}
	item := map[string]types.AttributeValue{
		AttrPK:             ddbattr.S(ErasureKey(owner)),
		AttrErasureID:      ddbattr.S(id),
		AttrStatus:         ddbattr.S(string(ErasureAccepted)),
		AttrVia:            ddbattr.S(via),
		AttrSubject:        ddbattr.S(owner),
		AttrRequestedAt:    ddbattr.Time(now),
		AttrUpdatedAt:      ddbattr.Time(now),
		AttrErasurePending: ddbattr.S(PendingValue),
	}
	if home != "" {
		item[AttrHome] = ddbattr.S(home)
	}
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(table),
		Item:                                item,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames:            map[string]string{"#pk": AttrPK},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		e, err := DecodeErasure(item)
		return e, true, err
	case errors.As(err, &ccf) && len(ccf.Item) > 0:
		e, err := DecodeErasure(ccf.Item)
		return e, false, err
	case errors.As(err, &ccf):
		return Erasure{}, false, fmt.Errorf("request erasure: condition failed but no record returned: %w", err)
	}
	return Erasure{}, false, fmt.Errorf("request erasure: %w", err)
}

// GetErasure reads owner's erasure record with one strongly consistent
// GetItem; ErrNoErasure when there is none.
func GetErasure(ctx context.Context, db GetItemAPI, table, owner string) (Erasure, error) {
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            ddbattr.Key(AttrPK, ErasureKey(owner)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Erasure{}, fmt.Errorf("get erasure: %w", err)
	}
	if len(out.Item) == 0 {
		return Erasure{}, ErrNoErasure
	}
	return DecodeErasure(out.Item)
}

// DecodeErasure reads the Erasure of an erasure record item.
func DecodeErasure(item map[string]types.AttributeValue) (Erasure, error) {
	r := ddbattr.NewReader(item)
	e := Erasure{
		ID:          r.S(AttrErasureID),
		Status:      ErasureStatus(r.S(AttrStatus)),
		Via:         r.S(AttrVia),
		Home:        r.S(AttrHome),
		RequestedAt: r.Time(AttrRequestedAt),
		UpdatedAt:   r.Time(AttrUpdatedAt),
	}
	if _, ok := item[AttrCompletedAt]; ok {
		e.CompletedAt = r.Time(AttrCompletedAt)
	}
	if err := r.Err(); err != nil {
		return Erasure{}, fmt.Errorf("%w: erasure record: %w", ErrCorrupt, err)
	}
	if ss, ok := item[AttrConfirmed].(*types.AttributeValueMemberSS); ok {
		e.Confirmed = ss.Value
	}
	if e.ID == "" || !e.Status.Valid() {
		return Erasure{}, fmt.Errorf("%w: erasure record: no id or no valid status", ErrCorrupt)
	}
	return e, nil
}

// NoErasure is the condition, for POST /orders' transaction (see
// lease.Table.AcquireWith), that owner has no erasure record: once one is
// written, no new order of that owner is accepted, so the erasure worker's
// list of the owner's orders is complete.
func NoErasure(table, owner string) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                aws.String(table),
		Key:                      ddbattr.Key(AttrPK, ErasureKey(owner)),
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
	}}
}

// ConfirmationsKey is the partition key of the item in which the site
// databases confirm erasure erasureID. It is kept apart from the erasure
// record so that the sites, which write it, need no write access to
// erasure records: a site's credentials cannot create or change one.
func ConfirmationsKey(erasureID string) string { return "CONFIRM#" + erasureID }

// confirmationsTTL is how long a confirmations item outlives its last
// confirmation; the completed erasure record keeps the list.
const confirmationsTTL = 30 * 24 * time.Hour

// ConfirmErasure records that site database dbID has erased the owner of
// erasure erasureID (every row deleted, a tombstone kept): one idempotent
// UpdateItem adding dbID to the erasure's confirmations item
// (ConfirmationsKey), which expires 30 days after its last confirmation.
// The site checks the erasure record first (GetErasure); the erasure
// worker reads the confirmations (Confirmations) and copies them into the
// record when it completes.
func ConfirmErasure(ctx context.Context, db UpdateItemAPI, table, erasureID, dbID string, now time.Time) error {
	if erasureID == "" || dbID == "" {
		return fmt.Errorf("ordertable: confirm erasure %s: empty erasure or database id", erasureID)
	}
	_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(table),
		Key:                      ddbattr.Key(AttrPK, ConfirmationsKey(erasureID)),
		UpdateExpression:         aws.String("ADD #confirmed :db SET #updatedAt = :now, #expiresAt = :exp"),
		ExpressionAttributeNames: map[string]string{"#confirmed": AttrConfirmed, "#updatedAt": AttrUpdatedAt, "#expiresAt": AttrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":db": &types.AttributeValueMemberSS{Value: []string{dbID}}, ":now": ddbattr.Time(now),
			":exp": ddbattr.N(now.Add(confirmationsTTL).Unix()),
		},
	})
	if err != nil {
		return fmt.Errorf("confirm erasure %s: %w", erasureID, err)
	}
	return nil
}

// Confirmations returns the site databases that confirmed erasure
// erasureID: one strongly consistent GetItem (none: an empty list).
func Confirmations(ctx context.Context, db GetItemAPI, table, erasureID string) ([]string, error) {
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            ddbattr.Key(AttrPK, ConfirmationsKey(erasureID)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read erasure %s confirmations: %w", erasureID, err)
	}
	switch v := out.Item[AttrConfirmed].(type) {
	case nil:
		return nil, nil
	case *types.AttributeValueMemberSS:
		return v.Value, nil
	}
	return nil, fmt.Errorf("%w: erasure %s confirmations: %s is not a string set", ErrCorrupt, erasureID, AttrConfirmed)
}

// RegisterSite adds site database dbID to the region's list of site
// databases (SitesKey): one idempotent UpdateItem, made by every processor
// at start. Every database listed must confirm an erasure before it
// completes; an operator removes a database retired for good (docs).
func RegisterSite(ctx context.Context, db UpdateItemAPI, table, dbID string) error {
	if dbID == "" {
		return errors.New("ordertable: register site: empty database id")
	}
	_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       ddbattr.Key(AttrPK, SitesKey),
		UpdateExpression:          aws.String("ADD #databases :db"),
		ExpressionAttributeNames:  map[string]string{"#databases": AttrDatabases},
		ExpressionAttributeValues: map[string]types.AttributeValue{":db": &types.AttributeValueMemberSS{Value: []string{dbID}}},
	})
	if err != nil {
		return fmt.Errorf("register site database: %w", err)
	}
	return nil
}

// EraseOrder replaces order id's status record, which must belong to owner,
// with a tombstone: status ERASED, the erasure's id, and the TTL expiresAt
// (set past the longest time a message of the order can stay in the queue
// or its dead-letter queue); owner, claim, createdAt and a pair order
// record's requestHash (a hash of the order's content) are removed. No
// consumer can claim a tombstone (Claim requires ACCEPTED), so a message of
// the order still queued, or redelivered later, is never processed; Get
// reports it as unknown. One conditional UpdateItem; a repeated EraseOrder
// is a no-op. It returns ErrCorrupt when the record belongs to someone else.
func EraseOrder(ctx context.Context, db UpdateItemAPI, table, id, owner, erasureID string, now, expiresAt time.Time) error {
	_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(table),
		Key:                 ddbattr.Key(AttrPK, OrderKey(id)),
		UpdateExpression:    aws.String("SET #status = :erased, #erasureId = :eid, #updatedAt = :now, #expiresAt = :exp REMOVE #owner, #claim, #claimStore, #claimedAt, #createdAt, #requestHash"),
		ConditionExpression: aws.String("#owner = :owner"),
		ExpressionAttributeNames: map[string]string{"#status": AttrStatus, "#erasureId": AttrErasureID, "#updatedAt": AttrUpdatedAt,
			"#expiresAt": AttrExpiresAt, "#owner": AttrOwner, "#claim": AttrClaim, "#claimStore": AttrClaimStore,
			"#claimedAt": AttrClaimedAt, "#createdAt": AttrCreatedAt, "#requestHash": AttrRequestHash},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":erased": ddbattr.S(string(orders.StatusErased)), ":eid": ddbattr.S(erasureID), ":now": ddbattr.Time(now),
			":exp": ddbattr.N(expiresAt.Unix()), ":owner": ddbattr.S(owner),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		r := ddbattr.NewReader(ccf.Item)
		switch {
		case len(ccf.Item) == 0:
			return nil // gone (its TTL passed): nothing of the owner left
		case orders.Status(r.S(AttrStatus)) == orders.StatusErased && r.S(AttrOwner) == "":
			return nil // erased already
		}
		return fmt.Errorf("%w: erase order %s: it belongs to another owner", ErrCorrupt, id)
	}
	if err != nil {
		return fmt.Errorf("erase order %s: %w", id, err)
	}
	return nil
}
