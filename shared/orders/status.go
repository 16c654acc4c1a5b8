package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/ddbattr"
)

// ErrUnknownOrder reports that the orders table has no record for the order.
var ErrUnknownOrder = errors.New("orders: unknown order")

// UpdateItemAPI is the part of the DynamoDB client Advance uses.
type UpdateItemAPI interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Advance moves order id's status forward to `to` in table with one
// conditional write: it succeeds only from a status before `to`, so statuses
// never move backwards and a repeated call is a no-op (nil). It returns
// ErrUnknownOrder when the record does not exist.
func Advance(ctx context.Context, db UpdateItemAPI, table, id string, to Status, now time.Time) error {
	if !to.Valid() {
		return fmt.Errorf("orders: advance %s: invalid status %q", id, to)
	}
	var allowed []Status
	for _, s := range []Status{StatusAccepted, StatusCompleted, StatusFailed} {
		if s.Before(to) {
			allowed = append(allowed, s)
		}
	}
	if len(allowed) == 0 {
		// The first status is written with the record (the orders API's
		// conditional create), never reached by a transition.
		return fmt.Errorf("orders: advance %s: nothing comes before %s", id, to)
	}
	values := map[string]types.AttributeValue{
		":to":  ddbattr.S(string(to)),
		":now": ddbattr.Time(now),
	}
	cond := "attribute_exists(#pk) AND #status IN ("
	for i, s := range allowed {
		k := fmt.Sprintf(":from%d", i)
		values[k] = ddbattr.S(string(s))
		if i > 0 {
			cond += ", "
		}
		cond += k
	}
	cond += ")"
	_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(table),
		Key:                                 ddbattr.Key(AttrPK, OrderKey(id)),
		UpdateExpression:                    aws.String("SET #status = :to, #updatedAt = :now"),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            map[string]string{"#pk": AttrPK, "#status": AttrStatus, "#updatedAt": AttrUpdatedAt},
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if len(ccf.Item) == 0 {
			return fmt.Errorf("advance %s to %s: %w", id, to, ErrUnknownOrder)
		}
		return nil // already at or past `to`
	}
	if err != nil {
		return fmt.Errorf("advance %s to %s: %w", id, to, err)
	}
	return nil
}
