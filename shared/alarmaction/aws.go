package alarmaction

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/shared/alarm"
	"github.com/homeregion/homeregion/shared/ddbattr"
	"github.com/homeregion/homeregion/shared/lease"
)

// Route53API is the part of *route53.Client the health check adapter uses.
type Route53API interface {
	GetHealthCheck(ctx context.Context, in *route53.GetHealthCheckInput, optFns ...func(*route53.Options)) (*route53.GetHealthCheckOutput, error)
	UpdateHealthCheck(ctx context.Context, in *route53.UpdateHealthCheckInput, optFns ...func(*route53.Options)) (*route53.UpdateHealthCheckOutput, error)
}

// ECSAPI is the part of *ecs.Client the service adapter uses.
type ECSAPI interface {
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, optFns ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
}

// SQSAPI is the part of *sqs.Client the queue adapter uses.
type SQSAPI interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

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

// Route53HealthChecks adapts Route 53 to HealthChecks.
type Route53HealthChecks struct{ c Route53API }

// NewRoute53HealthChecks returns the adapter over c.
func NewRoute53HealthChecks(c Route53API) *Route53HealthChecks { return &Route53HealthChecks{c} }

// Inverted returns the health check's Inverted flag.
func (r *Route53HealthChecks) Inverted(ctx context.Context, id string) (bool, error) {
	out, err := r.c.GetHealthCheck(ctx, &route53.GetHealthCheckInput{HealthCheckId: aws.String(id)})
	if err != nil {
		return false, fmt.Errorf("route53 GetHealthCheck %s: %w", id, err)
	}
	if out.HealthCheck == nil || out.HealthCheck.HealthCheckConfig == nil {
		return false, fmt.Errorf("route53 GetHealthCheck %s: no configuration in response", id)
	}
	return aws.ToBool(out.HealthCheck.HealthCheckConfig.Inverted), nil
}

// SetInverted sets the health check's Inverted flag.
func (r *Route53HealthChecks) SetInverted(ctx context.Context, id string, inverted bool) error {
	_, err := r.c.UpdateHealthCheck(ctx, &route53.UpdateHealthCheckInput{HealthCheckId: aws.String(id), Inverted: aws.Bool(inverted)})
	if err != nil {
		return fmt.Errorf("route53 UpdateHealthCheck %s inverted=%t: %w", id, inverted, err)
	}
	return nil
}

// ECSServices adapts ECS to Services.
type ECSServices struct{ c ECSAPI }

// NewECSServices returns the adapter over c.
func NewECSServices(c ECSAPI) *ECSServices { return &ECSServices{c} }

// DesiredCount returns the service's desired count.
func (e *ECSServices) DesiredCount(ctx context.Context, cluster, service string) (int, error) {
	out, err := e.c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{service}})
	if err != nil {
		return 0, fmt.Errorf("ecs DescribeServices %s/%s: %w", cluster, service, err)
	}
	for _, s := range out.Services {
		if aws.ToString(s.ServiceName) == service || aws.ToString(s.ServiceArn) == service {
			return int(s.DesiredCount), nil
		}
	}
	reason := "not found"
	if len(out.Failures) > 0 && out.Failures[0].Reason != nil {
		reason = *out.Failures[0].Reason
	}
	return 0, fmt.Errorf("ecs DescribeServices %s/%s: %s", cluster, service, reason)
}

// SetDesiredCount sets the service's desired count.
func (e *ECSServices) SetDesiredCount(ctx context.Context, cluster, service string, n int) error {
	_, err := e.c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String(service), DesiredCount: aws.Int32(int32(n))})
	if err != nil {
		return fmt.Errorf("ecs UpdateService %s/%s desiredCount=%d: %w", cluster, service, n, err)
	}
	return nil
}

// SQSQueue adapts SQS to Queue.
type SQSQueue struct{ c SQSAPI }

// NewSQSQueue returns the adapter over c.
func NewSQSQueue(c SQSAPI) *SQSQueue { return &SQSQueue{c} }

// Visible returns ApproximateNumberOfMessages (visible messages).
func (q *SQSQueue) Visible(ctx context.Context, queueURL string) (int, error) {
	out, err := q.c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		return 0, fmt.Errorf("sqs GetQueueAttributes: %w", err)
	}
	v, ok := out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)]
	if !ok {
		return 0, errors.New("sqs GetQueueAttributes: no ApproximateNumberOfMessages in response")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("sqs GetQueueAttributes: ApproximateNumberOfMessages %q is not a count", v)
	}
	return n, nil
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
