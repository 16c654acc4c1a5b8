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

// TransactWriteItemsAPI is the part of the DynamoDB client ClaimAll and
// SettleAll use.
type TransactWriteItemsAPI interface {
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// MaxTransactItems bounds the orders of one ClaimAll or SettleAll: a batch
// of SQS messages (the transaction itself allows 100).
const MaxTransactItems = 10

// Held is an order and the claim token its consumer holds or takes.
type Held struct {
	ID, Token string
}

// ErrNotAll reports a ClaimAll or SettleAll that wrote nothing because the
// condition of at least one of its orders did not hold (or the transaction
// conflicted with another write of one of them): make the claims or settles
// one by one (Claim, Settle) for each order's own answer. Test with
// errors.Is.
var ErrNotAll = errors.New("ordertable: not every order of the transaction could be written")

// ClaimAll is Claim for every order of held (distinct ids, at most
// MaxTransactItems) in one TransactWriteItems, all or nothing: nil means
// every claim is the caller's and every order ACCEPTED (Claim's result
// {Won: true, Status: ACCEPTED, Store: store} for each). Its condition is
// Claim's narrowed to ACCEPTED orders (a repeated claim of a settled order
// fails it), so it decides nothing Claim would decide otherwise. ErrNotAll:
// nothing was written; Claim them one by one. A table that has no
// transactions (a zone pair's multi-Region strongly consistent table)
// refuses it with an error: claim them one by one too.
func ClaimAll(ctx context.Context, db TransactWriteItemsAPI, table string, held []Held, store string, now time.Time) error {
	items := make([]types.TransactWriteItem, len(held))
	for i, h := range held {
		if h.Token == "" || store == "" {
			return fmt.Errorf("ordertable: claim %s: empty token or store", h.ID)
		}
		items[i] = types.TransactWriteItem{Update: &types.Update{
			TableName:           aws.String(table),
			Key:                 ddbattr.Key(AttrPK, OrderKey(h.ID)),
			UpdateExpression:    aws.String("SET #claim = :t, #claimStore = :s, #claimedAt = :now"),
			ConditionExpression: aws.String("attribute_exists(#pk) AND #status = :accepted AND (attribute_not_exists(#claim) OR #claim = :t)"),
			ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#status": AttrStatus, "#claim": AttrClaim,
				"#claimStore": AttrClaimStore, "#claimedAt": AttrClaimedAt},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":t": ddbattr.S(h.Token), ":s": ddbattr.S(store), ":now": ddbattr.Time(now),
				":accepted": ddbattr.S(string(orders.StatusAccepted)),
			},
		}}
	}
	return transact(ctx, db, "claim", items)
}

// SettleAll is Settle to COMPLETED or FAILED for every order of held
// (distinct ids, at most MaxTransactItems), each with its claim token, in
// one TransactWriteItems, all or nothing: nil means every order moved from
// ACCEPTED to `to`. ErrNotAll: nothing was written (an order was settled
// already, by a lost answer's first attempt or otherwise); Settle them one
// by one, which tells a repeat from a lost claim.
func SettleAll(ctx context.Context, db TransactWriteItemsAPI, table string, held []Held, to orders.Status, now time.Time) error {
	if to != orders.StatusCompleted && to != orders.StatusFailed {
		return fmt.Errorf("ordertable: settle: %q is not a terminal status", to)
	}
	items := make([]types.TransactWriteItem, len(held))
	for i, h := range held {
		if h.Token == "" {
			return fmt.Errorf("ordertable: settle %s: empty token", h.ID)
		}
		items[i] = types.TransactWriteItem{Update: &types.Update{
			TableName:                aws.String(table),
			Key:                      ddbattr.Key(AttrPK, OrderKey(h.ID)),
			UpdateExpression:         aws.String("SET #status = :to, #updatedAt = :now"),
			ConditionExpression:      aws.String("attribute_exists(#pk) AND #status = :accepted AND #claim = :t"),
			ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#status": AttrStatus, "#updatedAt": AttrUpdatedAt, "#claim": AttrClaim},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":to": ddbattr.S(string(to)), ":now": ddbattr.Time(now), ":t": ddbattr.S(h.Token),
				":accepted": ddbattr.S(string(orders.StatusAccepted)),
			},
		}}
	}
	return transact(ctx, db, "settle", items)
}

// transact writes items in one TransactWriteItems; a cancelled transaction
// is ErrNotAll.
func transact(ctx context.Context, db TransactWriteItemsAPI, what string, items []types.TransactWriteItem) error {
	if len(items) == 0 {
		return nil
	}
	if len(items) > MaxTransactItems {
		return fmt.Errorf("ordertable: %s %d orders in one transaction: at most %d", what, len(items), MaxTransactItems)
	}
	_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var tce *types.TransactionCanceledException
	switch {
	case errors.As(err, &tce):
		return fmt.Errorf("%s %d orders: %w", what, len(items), ErrNotAll)
	case err != nil:
		return fmt.Errorf("%s %d orders: %w", what, len(items), err)
	}
	return nil
}
