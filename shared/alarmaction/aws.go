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

// DynamoDBAPI is the part of *dynamodb.Client the control table adapter uses.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Clients are the SDK clients an alarm function may use; nil ones are not
// needed by its action.
type Clients struct {
	DynamoDB DynamoDBAPI
	Route53  Route53API
	ECS      ECSAPI
	SQS      SQSAPI
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
//	    st (pending|done), token (S, the claimer's), leaseUntil (N, unix ms), decision (S),
//	    decidedAt (N, unix ms), expiresAt (N, unix s; the table's TTL)
//	state#<action>/<target>
//	    ver (N), lastAlarm (S), lastAlarmAt (N, unix ms), changedAt (N, unix ms),
//	    failedOver (BOOL)
const (
	attrPK          = "pk"
	attrStatus      = "st"
	attrLeaseUntil  = "leaseUntil"
	attrToken       = "token"
	attrDecision    = "decision"
	attrDecidedAt   = "decidedAt"
	attrExpiresAt   = "expiresAt"
	attrVersion     = "ver"
	attrLastAlarm   = "lastAlarm"
	attrLastAlarmAt = "lastAlarmAt"
	attrChangedAt   = "changedAt"
	attrFailedOver  = "failedOver"

	statusPending = "pending"
	statusDone    = "done"

	// eventRetention is how long event items are kept (TTL): far longer
	// than CloudWatch and Lambda keep retrying one delivery.
	eventRetention = 30 * 24 * time.Hour
)

// DynamoStore is the control table in DynamoDB.
type DynamoStore struct {
	c     DynamoDBAPI
	table string
}

// NewDynamoStore returns the control table adapter for table.
func NewDynamoStore(c DynamoDBAPI, table string) *DynamoStore {
	return &DynamoStore{c: c, table: table}
}

func s(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
func n(v int64) ddbtypes.AttributeValue {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func isConditionFailed(err error) bool {
	var ccf *ddbtypes.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// ClaimEvent implements Store. The claim carries a random token: when
// DynamoDB applies the write but its answer is lost, the SDK's retry fails
// the condition against this very claim, and the token in the returned old
// item tells "mine" from "someone else's" (otherwise the only delivery of a
// state change would be dropped as a duplicate of itself).
func (d *DynamoStore) ClaimEvent(ctx context.Context, key string, now time.Time, lease time.Duration) (bool, error) {
	token := rand.Text()
	_, err := d.c.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.table),
		Item: map[string]ddbtypes.AttributeValue{
			attrPK:         s("event#" + key),
			attrStatus:     s(statusPending),
			attrToken:      s(token),
			attrLeaseUntil: n(now.Add(lease).UnixMilli()),
			attrExpiresAt:  n(now.Add(eventRetention).Unix()),
		},
		ConditionExpression:      aws.String("attribute_not_exists(#pk) OR (#st = :pending AND #lease < :now)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#st": attrStatus, "#lease": attrLeaseUntil},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":pending": s(statusPending),
			":now":     n(now.UnixMilli()),
		},
		ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		old, _ := ccf.Item[attrToken].(*ddbtypes.AttributeValueMemberS)
		return old != nil && old.Value == token, nil
	}
	if err != nil {
		return false, fmt.Errorf("dynamodb PutItem %s: %w", d.table, err)
	}
	return true, nil
}

// FinishEvent implements Store.
func (d *DynamoStore) FinishEvent(ctx context.Context, key, decision string, now time.Time) error {
	_, err := d.c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(d.table),
		Key:                      map[string]ddbtypes.AttributeValue{attrPK: s("event#" + key)},
		UpdateExpression:         aws.String("SET #st = :done, #dec = :dec, #at = :at"),
		ExpressionAttributeNames: map[string]string{"#st": attrStatus, "#dec": attrDecision, "#at": attrDecidedAt},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":done": s(statusDone), ":dec": s(decision), ":at": n(now.UnixMilli()),
		},
	})
	if err != nil {
		return fmt.Errorf("dynamodb UpdateItem %s: %w", d.table, err)
	}
	return nil
}

// ReleaseEvent implements Store.
func (d *DynamoStore) ReleaseEvent(ctx context.Context, key string) error {
	_, err := d.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(d.table),
		Key:                       map[string]ddbtypes.AttributeValue{attrPK: s("event#" + key)},
		ConditionExpression:       aws.String("#st = :pending"),
		ExpressionAttributeNames:  map[string]string{"#st": attrStatus},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pending": s(statusPending)},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("dynamodb DeleteItem %s: %w", d.table, err)
	}
	return nil
}

// LoadState implements Store (strongly consistent read).
func (d *DynamoStore) LoadState(ctx context.Context, target string) (State, error) {
	out, err := d.c.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            map[string]ddbtypes.AttributeValue{attrPK: s("state#" + target)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return State{}, fmt.Errorf("dynamodb GetItem %s: %w", d.table, err)
	}
	if out.Item == nil {
		return State{}, nil
	}
	var st State
	var perr error
	num := func(name string) int64 {
		v, ok := out.Item[name].(*ddbtypes.AttributeValueMemberN)
		if !ok {
			return 0
		}
		x, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			perr = fmt.Errorf("control state %s: attribute %s %q is not an integer", target, name, v.Value)
		}
		return x
	}
	ms := func(name string) time.Time {
		if x := num(name); x != 0 {
			return time.UnixMilli(x).UTC()
		}
		return time.Time{}
	}
	st.Version = num(attrVersion)
	st.LastAlarmAt = ms(attrLastAlarmAt)
	st.ChangedAt = ms(attrChangedAt)
	if v, ok := out.Item[attrLastAlarm].(*ddbtypes.AttributeValueMemberS); ok {
		st.LastAlarm = alarm.State(v.Value)
	}
	if v, ok := out.Item[attrFailedOver].(*ddbtypes.AttributeValueMemberBOOL); ok {
		st.FailedOver = v.Value
	}
	if perr != nil {
		return State{}, perr
	}
	return st, nil
}

// SaveState implements Store: a conditional put on the version read.
func (d *DynamoStore) SaveState(ctx context.Context, target string, st State) (State, error) {
	item := map[string]ddbtypes.AttributeValue{
		attrPK:         s("state#" + target),
		attrVersion:    n(st.Version + 1),
		attrFailedOver: &ddbtypes.AttributeValueMemberBOOL{Value: st.FailedOver},
	}
	if st.LastAlarm != "" {
		item[attrLastAlarm] = s(string(st.LastAlarm))
	}
	if !st.LastAlarmAt.IsZero() {
		item[attrLastAlarmAt] = n(st.LastAlarmAt.UnixMilli())
	}
	if !st.ChangedAt.IsZero() {
		item[attrChangedAt] = n(st.ChangedAt.UnixMilli())
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(d.table), Item: item}
	if st.Version == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		in.ExpressionAttributeNames = map[string]string{"#pk": attrPK}
	} else {
		in.ConditionExpression = aws.String("#ver = :ver")
		in.ExpressionAttributeNames = map[string]string{"#ver": attrVersion}
		in.ExpressionAttributeValues = map[string]ddbtypes.AttributeValue{":ver": n(st.Version)}
	}
	if _, err := d.c.PutItem(ctx, in); err != nil {
		if isConditionFailed(err) {
			return State{}, ErrConflict
		}
		return State{}, fmt.Errorf("dynamodb PutItem %s: %w", d.table, err)
	}
	st.Version++
	return st, nil
}
