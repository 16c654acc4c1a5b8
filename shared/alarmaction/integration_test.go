package alarmaction

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/shared/alarm"
	"github.com/homeregion/homeregion/shared/logging"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// countingRoute53 counts UpdateHealthCheck calls that reached Route 53.
type countingRoute53 struct {
	Route53API
	updates atomic.Int32
}

func (c *countingRoute53) UpdateHealthCheck(ctx context.Context, in *route53.UpdateHealthCheckInput, o ...func(*route53.Options)) (*route53.UpdateHealthCheckOutput, error) {
	c.updates.Add(1)
	return c.Route53API.UpdateHealthCheck(ctx, in, o...)
}

type env struct {
	cfg   aws.Config
	ddb   *dynamodb.Client
	r53   *route53.Client
	ecs   *ecs.Client
	sqs   *sqs.Client
	table string
	name  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := mototest.Require(t)
	cfg := srv.Config("eu-west-1")
	name := strings.NewReplacer("/", "-", "_", "-", " ", "-").Replace(strings.ToLower(t.Name()))
	name = fmt.Sprintf("%.40s-%d", name, time.Now().UnixNano()%1e6)
	e := &env{cfg: cfg, ddb: dynamodb.NewFromConfig(cfg), r53: route53.NewFromConfig(cfg), ecs: ecs.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg), table: "control-" + name, name: name}
	mototest.CreateTable(t, e.ddb, "ControlTable", e.table)
	return e
}

func (e *env) healthCheck(t *testing.T) string {
	t.Helper()
	out, err := e.r53.CreateHealthCheck(context.Background(), &route53.CreateHealthCheckInput{
		CallerReference: aws.String(e.name),
		HealthCheckConfig: &r53types.HealthCheckConfig{
			Type: r53types.HealthCheckTypeHttps, FullyQualifiedDomainName: aws.String("api.eu-west-1.example.com"),
			Port: aws.Int32(443), ResourcePath: aws.String("/health"), RequestInterval: aws.Int32(30), FailureThreshold: aws.Int32(3),
		},
	})
	if err != nil {
		t.Fatalf("create health check: %v", err)
	}
	return aws.ToString(out.HealthCheck.Id)
}

func (e *env) inverted(t *testing.T, id string) bool {
	t.Helper()
	out, err := e.r53.GetHealthCheck(context.Background(), &route53.GetHealthCheckInput{HealthCheckId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToBool(out.HealthCheck.HealthCheckConfig.Inverted)
}

// service creates a cluster and a service WITHOUT a launch type (moto rejects
// EXTERNAL; ECS Anywhere services are EXTERNAL in AWS).
func (e *env) service(t *testing.T, desired int32) (cluster, service string) {
	t.Helper()
	ctx := context.Background()
	cluster, service = "site-"+e.name, "processor"
	if _, err := e.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		t.Fatalf("create cluster: %v", err)
	}
	if _, err := e.ecs.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String(service), DesiredCount: aws.Int32(desired)}); err != nil {
		t.Fatalf("create service: %v", err)
	}
	return cluster, service
}

func (e *env) desired(t *testing.T, cluster, service string) int {
	t.Helper()
	n, err := NewECSServices(e.ecs).DesiredCount(context.Background(), cluster, service)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) queue(t *testing.T) string {
	t.Helper()
	out, err := e.sqs.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("orders-" + e.name)})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	return aws.ToString(out.QueueUrl)
}

// send puts n messages on the queue, in batches of 10 from a few goroutines.
func (e *env) send(t *testing.T, url string, n int) {
	t.Helper()
	batches := make(chan int)
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for size := range batches {
				entries := make([]sqstypes.SendMessageBatchRequestEntry, size)
				for i := range entries {
					entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(`{"version":1}`)}
				}
				if _, err := e.sqs.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries}); err != nil {
					failed.Store(err)
				}
			}
		}()
	}
	for left := n; left > 0; left -= 10 {
		batches <- min(left, 10)
	}
	close(batches)
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("send messages: %v", err)
	}
}

// backlogSQS reports a fixed ApproximateNumberOfMessages when override is
// set: moto's SQS takes quadratic time to fill a queue (measured: 1 000
// messages in ~108 s), so a 10 000-message backlog is simulated at the SDK
// interface while ECS and DynamoDB stay real.
type backlogSQS struct {
	SQSAPI
	override atomic.Int64
}

func (b *backlogSQS) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, o ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	out, err := b.SQSAPI.GetQueueAttributes(ctx, in, o...)
	if n := b.override.Load(); err == nil && n > 0 {
		out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)] = fmt.Sprint(n)
	}
	return out, err
}

func (e *env) handler(t *testing.T, cfg Config, c *clock, r53 Route53API, q SQSAPI) *Handler {
	t.Helper()
	cfg.ControlTable = e.table
	if r53 == nil {
		r53 = e.r53
	}
	if q == nil {
		q = e.sqs
	}
	deps := FromClients(cfg, Clients{DynamoDB: e.ddb, Route53: r53, ECS: e.ecs, SQS: q})
	deps.Now, deps.Logger = c.now, logging.Discard()
	h, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// invoke goes through lambda.NewHandler like the runtime and the local stack.
func invoke(t *testing.T, h *Handler, payload json.RawMessage) {
	t.Helper()
	if _, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), payload); err != nil {
		t.Fatalf("invoke: %v", err)
	}
}

func TestIntegrationFailover(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := newClock()
	cfg := failoverConfig(FailbackAuto)
	cfg.HealthCheckID = e.healthCheck(t)
	counter := &countingRoute53{Route53API: e.r53}
	h := e.handler(t, cfg, c, counter, nil)
	alarmArn := "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:" + e.name

	t.Run("alarm inverts the health check, a re-delivery changes nothing", func(t *testing.T) {
		ev := event(alarmArn, alarm.StateOK, alarm.StateAlarm, c.at(0))
		invoke(t, h, ev)
		if !e.inverted(t, cfg.HealthCheckID) {
			t.Fatal("health check not inverted after ALARM")
		}
		c.advance(30 * time.Second)
		invoke(t, h, ev)
		invoke(t, h, snsEvent(alarmArn, alarm.StateOK, alarm.StateAlarm, c.at(-30*time.Second)))
		if got := counter.updates.Load(); got != 1 {
			t.Fatalf("%d UpdateHealthCheck calls, want 1", got)
		}
	})
	t.Run("alarm ok alarm inside the hold-down does not flap", func(t *testing.T) {
		c.advance(time.Minute)
		invoke(t, h, event(alarmArn, alarm.StateAlarm, alarm.StateOK, c.at(0)))
		c.advance(time.Minute)
		invoke(t, h, event(alarmArn, alarm.StateOK, alarm.StateAlarm, c.at(0)))
		if !e.inverted(t, cfg.HealthCheckID) || counter.updates.Load() != 1 {
			t.Fatalf("inverted=%v after %d updates, want still inverted after 1", e.inverted(t, cfg.HealthCheckID), counter.updates.Load())
		}
	})
	t.Run("ok then the tick past the hold-down fails back", func(t *testing.T) {
		c.advance(time.Minute)
		invoke(t, h, event(alarmArn, alarm.StateAlarm, alarm.StateOK, c.at(0)))
		c.advance(10 * time.Minute)
		invoke(t, h, json.RawMessage(tick))
		if e.inverted(t, cfg.HealthCheckID) || counter.updates.Load() != 2 {
			t.Fatalf("inverted=%v after %d updates, want failed back after 2", e.inverted(t, cfg.HealthCheckID), counter.updates.Load())
		}
	})
}

func TestIntegrationScale(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := newClock()
	cluster, service := e.service(t, 0)
	url := e.queue(t)
	cfg := scaleConfig() // 10 per task, 0..5, cooldown 5 min
	cfg.QueueURL, cfg.Cluster, cfg.Service = url, cluster, service
	backlog := &backlogSQS{SQSAPI: e.sqs}
	h := e.handler(t, cfg, c, nil, backlog)
	alarmArn := "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:" + e.name

	t.Run("one visible message with no task gives one task", func(t *testing.T) {
		e.send(t, url, 1)
		invoke(t, h, event(alarmArn, alarm.StateOK, alarm.StateAlarm, c.at(0)))
		if got := e.desired(t, cluster, service); got != 1 {
			t.Fatalf("desired %d, want 1", got)
		}
	})
	t.Run("25 visible gives ceil(25/10) tasks", func(t *testing.T) {
		e.send(t, url, 24)
		c.advance(time.Minute)
		invoke(t, h, json.RawMessage(tick))
		if got := e.desired(t, cluster, service); got != 3 {
			t.Fatalf("desired %d, want 3", got)
		}
	})
	t.Run("10000 visible gives MAX_TASKS", func(t *testing.T) {
		backlog.override.Store(10000)
		defer backlog.override.Store(0)
		c.advance(time.Minute)
		invoke(t, h, json.RawMessage(tick))
		if got := e.desired(t, cluster, service); got != cfg.MaxTasks {
			t.Fatalf("desired %d, want MAX_TASKS %d", got, cfg.MaxTasks)
		}
	})
	t.Run("ok scales in one step per cooldown", func(t *testing.T) {
		if _, err := e.sqs.PurgeQueue(context.Background(), &sqs.PurgeQueueInput{QueueUrl: aws.String(url)}); err != nil {
			t.Fatal(err)
		}
		c.advance(time.Minute)
		invoke(t, h, event(alarmArn, alarm.StateAlarm, alarm.StateOK, c.at(0)))
		if got := e.desired(t, cluster, service); got != 5 {
			t.Fatalf("desired %d inside the cooldown, want 5", got)
		}
		want := []int{4, 4, 3}
		for i, adv := range []time.Duration{4 * time.Minute, time.Minute, 4 * time.Minute} {
			c.advance(adv)
			invoke(t, h, json.RawMessage(tick))
			if got := e.desired(t, cluster, service); got != want[i] {
				t.Fatalf("tick %d: desired %d, want %d", i, got, want[i])
			}
		}
	})
}

func TestIntegrationPromote(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := newClock()
	cluster, service := e.service(t, 1)
	cfg := promoteConfig() // STANDBY_TASKS 3
	cfg.StandbyCluster, cfg.StandbyService = cluster, service
	h := e.handler(t, cfg, c, nil, nil)
	alarmArn := "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:" + e.name

	invoke(t, h, event(alarmArn, alarm.StateOK, alarm.StateAlarm, c.at(0)))
	if got := e.desired(t, cluster, service); got != 3 {
		t.Fatalf("standby desired %d after ALARM, want 3", got)
	}
	c.advance(time.Minute)
	invoke(t, h, event(alarmArn, alarm.StateAlarm, alarm.StateOK, c.at(0)))
	if got := e.desired(t, cluster, service); got != 3 {
		t.Fatalf("standby desired %d after OK, want 3 (never lowered)", got)
	}
	// The decision is recorded in the control table.
	out, err := e.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(e.table),
		Key:       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "event#promote/" + alarmArn + "|ALARM|" + c.t.Add(-time.Minute).Format(time.RFC3339Nano)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := out.Item["decision"].(*ddbtypes.AttributeValueMemberS)
	if dec == nil || !strings.HasPrefix(dec.Value, "acted") {
		t.Fatalf("decision record %v, want acted", out.Item)
	}
}

func TestIntegrationDynamoStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	st := NewDynamoStore(e.ddb, e.table)
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

	first, ok, err := st.ClaimEvent(ctx, "k", now, time.Minute)
	if err != nil || !ok || first == "" {
		t.Fatalf("first claim %q %v %v", first, ok, err)
	}
	if _, ok, _ := st.ClaimEvent(ctx, "k", now.Add(time.Second), time.Minute); ok {
		t.Fatal("second claim inside the lease succeeded")
	}
	second, ok, _ := st.ClaimEvent(ctx, "k", now.Add(2*time.Minute), time.Minute)
	if !ok || second == first {
		t.Fatal("claim after the lease expired failed")
	}
	if err := st.FinishEvent(ctx, "k", first, "acted: x", now); err == nil {
		t.Fatal("the claim taken over finished the event")
	}
	if err := st.FinishEvent(ctx, "k", second, "acted: x", now); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.ClaimEvent(ctx, "k", now.Add(time.Hour), time.Minute); ok {
		t.Fatal("claim of a finished event succeeded")
	}
	r, ok, _ := st.ClaimEvent(ctx, "r", now, time.Minute)
	if !ok {
		t.Fatal("claim r")
	}
	if err := st.ReleaseEvent(ctx, "r", "not-the-claim"); err != nil {
		t.Fatalf("release by another claim: %v, want nil (nothing to release)", err)
	}
	if _, ok, _ := st.ClaimEvent(ctx, "r", now, time.Minute); ok {
		t.Fatal("another claim released r")
	}
	if err := st.ReleaseEvent(ctx, "r", r); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.ClaimEvent(ctx, "r", now, time.Minute); !ok {
		t.Fatal("claim after release failed")
	}

	want := State{LastAlarm: alarm.StateOK, LastAlarmAt: now, ChangedAt: now.Add(time.Second), FailedOver: true}
	saved, err := st.SaveState(ctx, "t", want)
	if err != nil || saved.Version != 1 {
		t.Fatalf("save: %+v %v", saved, err)
	}
	if _, err := st.SaveState(ctx, "t", want); err != ErrConflict {
		t.Fatalf("stale save: %v, want ErrConflict", err)
	}
	got, err := st.LoadState(ctx, "t")
	want.Version = 1
	if err != nil || got != want {
		t.Fatalf("load %+v %v, want %+v", got, err, want)
	}
	pending := State{Version: 1, FailedOver: true, Pending: true, ChangedAt: now}
	if saved, err := st.SaveState(ctx, "t", pending); err != nil || !saved.Pending {
		t.Fatalf("save pending: %+v %v", saved, err)
	}
	if got, err := st.LoadState(ctx, "t"); err != nil || !got.Pending || !got.FailedOver {
		t.Fatalf("load pending: %+v %v", got, err)
	}
	if empty, err := st.LoadState(ctx, "none"); err != nil || empty != (State{}) {
		t.Fatalf("load missing: %+v %v", empty, err)
	}
}

// A single alarm event stamped far in the future (a broken clock, a crafted
// or replayed payload) used to be recorded as the newest state seen, so every
// later genuine OK was "stale" and fail-back never happened.
func TestIntegrationFarFutureEventDoesNotPoisonFailback(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := newClock()
	cfg := failoverConfig(FailbackAuto)
	cfg.HealthCheckID = e.healthCheck(t)
	h := e.handler(t, cfg, c, nil, nil)
	alarmArn := "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:" + e.name
	ctx := context.Background()

	if r, err := h.Process(ctx, event(alarmArn, alarm.StateOK, alarm.StateAlarm, c.at(0))); err != nil || r.Outcome != OutcomeActed {
		t.Fatalf("ALARM: %+v, %v; want acted", r, err)
	}
	c.advance(time.Minute)
	if r, err := h.Process(ctx, event(alarmArn, alarm.StateAlarm, alarm.StateOK, c.at(30*24*time.Hour))); err != nil || r.Outcome != OutcomeFuture {
		t.Fatalf("far-future OK: %+v, %v; want %s", r, err, OutcomeFuture)
	}
	st, err := h.deps.Store.LoadState(ctx, h.target)
	if err != nil {
		t.Fatal(err)
	}
	if st.LastAlarmAt.After(c.now().Add(MaxClockSkew)) {
		t.Fatalf("far-future event recorded: LastAlarmAt %s", st.LastAlarmAt)
	}
	c.advance(15 * time.Minute)
	if r, err := h.Process(ctx, event(alarmArn, alarm.StateAlarm, alarm.StateOK, c.at(0))); err != nil || r.Outcome != OutcomeActed {
		t.Fatalf("genuine OK past the hold-down: %+v, %v; want acted (failed back)", r, err)
	}
	if e.inverted(t, cfg.HealthCheckID) {
		t.Fatal("still failed over after a genuine OK past the hold-down")
	}
}
