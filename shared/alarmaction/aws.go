package alarmaction

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/shared/alarm"
	"github.com/homeregion/homeregion/shared/ddbattr"
	"github.com/homeregion/homeregion/shared/lease"
)

// DynamoDBAPI is the part of *dynamodb.Client the control table adapter uses:
// lease.DB for the event claims (of which it needs no TransactWriteItems, but
// the lease table takes one client for all its operations) and GetItem and
// PutItem for the targets' state.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Clients are the SDK clients an alarm function may use; nil ones are not
// needed by its action.
type Clients struct {
	DynamoDB DynamoDBAPI
	Route53  Route53API
	// ARC is the cluster data-plane client (SWITCH=arc).
	ARC ARCAPI
	ECS ECSAPI
	SQS SQSAPI
}

// FromClients builds the adapters for cfg's action from SDK clients. Now and
// Logger are left for the caller to set.
func FromClients(cfg Config, c Clients) Deps {
	var d Deps
	if c.DynamoDB != nil {
		d.Store = NewDynamoStore(c.DynamoDB, cfg.ControlTable)
	}
	if c.Route53 != nil {
		d.HealthChecks = NewRoute53HealthChecks(c.Route53)
	}
	if c.ARC != nil && cfg.Switch == SwitchARC {
		d.Switch = NewARCRoutingControl(c.ARC, cfg.RoutingControlARN, cfg.ArcEndpoints)
	}
	if c.ECS != nil {
		d.Services = NewECSServices(c.ECS)
	}
	if c.SQS != nil {
		d.Queue = NewSQSQueue(c.SQS)
	}
	return d
}

// Control table item layout (partition key pk, string):
//
//	event#<action>/<alarm ARN>|<state>|<state timestamp>
//	    a lease record (package lease): st (pending|done), token (S, the
//	    claimer's), leaseUntil (N, unix ms; removed when done), expiresAt
//	    (N, unix s; the table's TTL); and decision (S), decidedAt (N, unix ms)
//	state#<action>/<target>
//	    ver (N), lastAlarm (S), lastAlarmAt (N, unix ms), changedAt (N, unix ms),
//	    failedOver (BOOL), pending (BOOL; absent = false)
const (
	attrPK          = "pk"
	attrDecision    = "decision"
	attrDecidedAt   = "decidedAt"
	attrVersion     = "ver"
	attrLastAlarm   = "lastAlarm"
	attrLastAlarmAt = "lastAlarmAt"
	attrChangedAt   = "changedAt"
	attrFailedOver  = "failedOver"
	attrPending     = "pending"

	// eventRetention is how long event items are kept (TTL): far longer
	// than CloudWatch and Lambda keep retrying one delivery.
	eventRetention = 30 * 24 * time.Hour
)

// eventLayout is the event claims' lease record layout.
var eventLayout = lease.Layout{
	Key:        attrPK,
	State:      "st",
	Token:      "token",
	LeaseUntil: "leaseUntil",
	ExpiresAt:  "expiresAt",
	Held:       "pending",
	Done:       "done",
}

// DynamoStore is the control table in DynamoDB.
type DynamoStore struct {
	c      DynamoDBAPI
	table  string
	events *lease.Table
}

// NewDynamoStore returns the control table adapter for table.
func NewDynamoStore(c DynamoDBAPI, table string) *DynamoStore {
	return &DynamoStore{c: c, table: table, events: lease.New(c, table, eventLayout)}
}

func eventKey(key string) string { return "event#" + key }

// ClaimEvent implements Store with a lease record claimed by a random token
// (so a claim whose answer was lost is not taken for a duplicate of itself,
// which would drop the only delivery of a state change). A pending claim
// whose lease has run out is taken over.
func (d *DynamoStore) ClaimEvent(ctx context.Context, key string, now time.Time, leaseFor time.Duration) (string, bool, error) {
	c := lease.Claim{Key: eventKey(key), Token: rand.Text(), LeaseUntil: now.Add(leaseFor), ExpiresAt: now.Add(eventRetention)}
	err := d.events.Acquire(ctx, c, now)
	var held *lease.HeldError
	if errors.As(err, &held) {
		switch {
		case held.Record.State == lease.Done:
			return "", false, nil // handled
		case !held.Record.Abandoned(now):
			return "", false, ErrInProgress
		}
		err = d.events.TakeOver(ctx, c.Key, held.Record.Token, c.Token, c.LeaseUntil)
		if errors.Is(err, lease.ErrLost) {
			return "", false, ErrInProgress // another retry took it over first
		}
	}
	if err != nil {
		return "", false, fmt.Errorf("claim event in %s: %w", d.table, err)
	}
	return c.Token, true, nil
}

// FinishEvent implements Store.
func (d *DynamoStore) FinishEvent(ctx context.Context, key, claim, decision string, now time.Time) error {
	err := d.events.Complete(ctx, eventKey(key), claim, map[string]ddbtypes.AttributeValue{
		attrDecision:  ddbattr.S(decision),
		attrDecidedAt: ddbattr.N(now.UnixMilli()),
	})
	if err != nil {
		return fmt.Errorf("finish event in %s: %w", d.table, err)
	}
	return nil
}

// ReleaseEvent implements Store: the claim's lease ends now, so a retry
// takes it over at once. A claim no longer held is left alone.
func (d *DynamoStore) ReleaseEvent(ctx context.Context, key, claim string) error {
	err := d.events.Release(ctx, eventKey(key), claim)
	if err != nil && !errors.Is(err, lease.ErrLost) {
		return fmt.Errorf("release event in %s: %w", d.table, err)
	}
	return nil
}

// LoadState implements Store (strongly consistent read).
func (d *DynamoStore) LoadState(ctx context.Context, target string) (State, error) {
	out, err := d.c.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            ddbattr.Key(attrPK, "state#"+target),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return State{}, fmt.Errorf("dynamodb GetItem %s: %w", d.table, err)
	}
	if out.Item == nil {
		return State{}, nil
	}
	r := ddbattr.NewReader(out.Item)
	st := State{
		Version:     r.N(attrVersion),
		LastAlarm:   alarm.State(r.S(attrLastAlarm)),
		LastAlarmAt: r.UnixMilli(attrLastAlarmAt),
		ChangedAt:   r.UnixMilli(attrChangedAt),
		FailedOver:  r.Bool(attrFailedOver),
		Pending:     r.Bool(attrPending),
	}
	if err := r.Err(); err != nil {
		return State{}, fmt.Errorf("control state %s: %w", target, err)
	}
	return st, nil
}

// SaveState implements Store: a conditional put on the version read.
func (d *DynamoStore) SaveState(ctx context.Context, target string, st State) (State, error) {
	item := map[string]ddbtypes.AttributeValue{
		attrPK:         ddbattr.S("state#" + target),
		attrVersion:    ddbattr.N(st.Version + 1),
		attrFailedOver: ddbattr.Bool(st.FailedOver),
	}
	if st.Pending {
		item[attrPending] = ddbattr.Bool(true)
	}
	if st.LastAlarm != "" {
		item[attrLastAlarm] = ddbattr.S(string(st.LastAlarm))
	}
	if !st.LastAlarmAt.IsZero() {
		item[attrLastAlarmAt] = ddbattr.N(st.LastAlarmAt.UnixMilli())
	}
	if !st.ChangedAt.IsZero() {
		item[attrChangedAt] = ddbattr.N(st.ChangedAt.UnixMilli())
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(d.table), Item: item}
	if st.Version == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		in.ExpressionAttributeNames = map[string]string{"#pk": attrPK}
	} else {
		in.ConditionExpression = aws.String("#ver = :ver")
		in.ExpressionAttributeNames = map[string]string{"#ver": attrVersion}
		in.ExpressionAttributeValues = map[string]ddbtypes.AttributeValue{":ver": ddbattr.N(st.Version)}
	}
	if _, err := d.c.PutItem(ctx, in); err != nil {
		var ccf *ddbtypes.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return State{}, ErrConflict
		}
		return State{}, fmt.Errorf("dynamodb PutItem %s: %w", d.table, err)
	}
	st.Version++
	return st, nil
}
