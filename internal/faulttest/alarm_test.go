package faulttest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/homeregion/homeregion/internal/faultproxy"
	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/shared/alarm"
	"github.com/homeregion/homeregion/shared/alarmaction"
	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/logging"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func alarmEvent(arn string, from, to alarm.State, at time.Time) json.RawMessage {
	ts := at.UTC().Format("2006-01-02T15:04:05.000-0700")
	return json.RawMessage(fmt.Sprintf(`{"source":"aws.cloudwatch","alarmArn":%q,"accountId":"000000000000","time":%q,"region":"eu-west-1",
"alarmData":{"alarmName":"primary-unhealthy","state":{"value":%q,"reason":"fault test","timestamp":%q},"previousState":{"value":%q,"reason":"fault test","timestamp":"2026-01-01T00:00:00.000+0000"},"configuration":{}}}`,
		arn, ts, to, ts, from))
}

// TestAlarmActionsNeitherDoubleActNorFlap delivers one ALARM change five
// times in a row (CloudWatch retries asynchronous invocations) while the
// control table throttles and Route 53 fails once, each
// failed invocation retried as Lambda would, then five times at once. The health check is inverted
// by exactly one Route 53 update, and an OK/ALARM bounce inside the hold-down
// changes nothing.
func TestAlarmActionsNeitherDoubleActNorFlap(t *testing.T) {
	srv := mototest.Require(t)
	direct := srv.Config(region)
	ddb, r53 := dynamodb.NewFromConfig(direct), route53.NewFromConfig(direct)
	ctx := context.Background()
	table := unique("control")
	mototest.CreateTable(t, ddb, "ControlTable", table)
	hc, err := r53.CreateHealthCheck(ctx, &route53.CreateHealthCheckInput{CallerReference: aws.String(unique("hc")),
		HealthCheckConfig: &r53types.HealthCheckConfig{Type: r53types.HealthCheckTypeHttps, FullyQualifiedDomainName: aws.String("api.eu-west-1.example.com"),
			Port: aws.Int32(443), ResourcePath: aws.String("/health"), RequestInterval: aws.Int32(30), FailureThreshold: aws.Int32(3)}})
	if err != nil {
		t.Fatal(err)
	}
	hcID := aws.ToString(hc.HealthCheck.Id)
	inverted := func() bool {
		out, err := r53.GetHealthCheck(ctx, &route53.GetHealthCheckInput{HealthCheckId: aws.String(hcID)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToBool(out.HealthCheck.HealthCheckConfig.Inverted)
	}

	p := proxy(t, srv)
	p.Add("DynamoDB_20120810.*", faultproxy.Fault{Kind: faultproxy.Throttle, Times: 3})
	p.Add("POST /2013-04-01/healthcheck/*", faultproxy.Fault{Kind: faultproxy.Status, Code: 500, Times: 1})
	cfg := via(t, p, awsconfig.Options{MaxAttempts: 2})
	c := &clock{now: time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)}
	acfg := alarmaction.Config{Action: alarmaction.ActionFailover, Region: region, ControlTable: table, HealthCheckID: hcID,
		SecondaryRegion: "eu-central-1", Failback: alarmaction.FailbackAuto, HoldDown: 10 * time.Minute}
	deps := alarmaction.FromClients(acfg, alarmaction.Clients{DynamoDB: dynamodb.NewFromConfig(cfg), Route53: route53.NewFromConfig(cfg)})
	deps.Now, deps.Logger = c.Now, logging.Discard()
	h, err := alarmaction.New(acfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	lh := lambda.NewHandler(h.Handle)
	// deliver invokes like Lambda's asynchronous invocation: retried on error.
	deliver := func(ev json.RawMessage) {
		var lastErr error
		for attempt := 0; attempt < 5; attempt++ {
			if _, lastErr = lh.Invoke(ctx, ev); lastErr == nil {
				return
			}
		}
		t.Errorf("invocation still failing after 5 attempts: %v", lastErr)
	}
	updates := func() int {
		_, fwd := p.Count("POST /2013-04-01/healthcheck/*")
		return fwd
	}
	arn := "arn:aws:cloudwatch:eu-west-1:000000000000:alarm:" + unique("primary")

	// Five re-deliveries of one change: first one after another (CloudWatch's
	// retries), through the faults, then five at once with the faults gone.
	ev := alarmEvent(arn, alarm.StateOK, alarm.StateAlarm, c.Now())
	for range 5 {
		deliver(ev)
	}
	p.Clear()
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); deliver(ev) }()
	}
	wg.Wait()
	if !inverted() {
		t.Fatal("health check not inverted after ALARM")
	}
	if got := updates(); got != 1 {
		t.Fatalf("%d Route 53 updates reached moto for one alarm change, want 1", got)
	}

	p.Clear()
	p.Add("DynamoDB_20120810.*", faultproxy.Fault{Kind: faultproxy.Throttle, Times: 2})
	c.advance(time.Minute)
	deliver(alarmEvent(arn, alarm.StateAlarm, alarm.StateOK, c.Now()))
	c.advance(time.Minute)
	deliver(alarmEvent(arn, alarm.StateOK, alarm.StateAlarm, c.Now()))
	c.advance(time.Minute)
	deliver(alarmEvent(arn, alarm.StateAlarm, alarm.StateOK, c.Now()))
	if !inverted() || updates() != 1 {
		t.Fatalf("after an OK/ALARM/OK bounce inside the hold-down: inverted=%v, %d updates; want still inverted after 1 (no flapping)", inverted(), updates())
	}
}

// TestAlarmActionLostClaimResponse loses the response of the control table's
// write after DynamoDB applied it (a 500 after commit, which DynamoDB can
// answer): the SDK's retry then finds the claim already there. The failover
// must still happen exactly once; an action that treats its own claim as
// someone else's is lost for good, since CloudWatch sends the change once.
func TestAlarmActionLostClaimResponse(t *testing.T) {
	for _, op := range []string{"DynamoDB_20120810.PutItem", "DynamoDB_20120810.UpdateItem", "DynamoDB_20120810.TransactWriteItems"} {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			e := newAlarmEnv(t)
			e.p.Add(op, faultproxy.Fault{Kind: faultproxy.LostResponse, Times: 1})
			for range 3 {
				e.deliver(e.event(alarm.StateOK, alarm.StateAlarm))
			}
			if !e.inverted() || e.updates() != 1 {
				t.Fatalf("inverted=%v after %d Route 53 updates, want inverted after exactly 1", e.inverted(), e.updates())
			}
		})
	}
}

// alarmEnv is one failover function (control table, health check, handler
// through a fault proxy) for the lost-response test.
type alarmEnv struct {
	t        *testing.T
	p        *faultproxy.Proxy
	r53      *route53.Client
	hcID     string
	arn      string
	at       time.Time
	h        *alarmaction.Handler
	deliver  func(json.RawMessage)
	inverted func() bool
}

func (e *alarmEnv) updates() int {
	_, fwd := e.p.Count("POST /2013-04-01/healthcheck/*")
	return fwd
}

func (e *alarmEnv) event(from, to alarm.State) json.RawMessage {
	return alarmEvent(e.arn, from, to, e.at)
}

func newAlarmEnv(t *testing.T) *alarmEnv {
	t.Helper()
	srv := mototest.Require(t)
	direct := srv.Config(region)
	ddb, r53 := dynamodb.NewFromConfig(direct), route53.NewFromConfig(direct)
	ctx := context.Background()
	table := unique("control")
	mototest.CreateTable(t, ddb, "ControlTable", table)
	hc, err := r53.CreateHealthCheck(ctx, &route53.CreateHealthCheckInput{CallerReference: aws.String(unique("hc")),
		HealthCheckConfig: &r53types.HealthCheckConfig{Type: r53types.HealthCheckTypeHttps, FullyQualifiedDomainName: aws.String("api.eu-west-1.example.com"),
			Port: aws.Int32(443), ResourcePath: aws.String("/health"), RequestInterval: aws.Int32(30), FailureThreshold: aws.Int32(3)}})
	if err != nil {
		t.Fatal(err)
	}
	e := &alarmEnv{t: t, p: proxy(t, srv), r53: r53, hcID: aws.ToString(hc.HealthCheck.Id),
		arn: "arn:aws:cloudwatch:eu-west-1:000000000000:alarm:" + unique("primary"), at: time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)}
	cfg := via(t, e.p, awsconfig.Options{MaxAttempts: 2})
	acfg := alarmaction.Config{Action: alarmaction.ActionFailover, Region: region, ControlTable: table, HealthCheckID: e.hcID,
		SecondaryRegion: "eu-central-1", Failback: alarmaction.FailbackAuto, HoldDown: 10 * time.Minute}
	deps := alarmaction.FromClients(acfg, alarmaction.Clients{DynamoDB: dynamodb.NewFromConfig(cfg), Route53: route53.NewFromConfig(cfg)})
	deps.Now, deps.Logger = func() time.Time { return e.at }, logging.Discard()
	if e.h, err = alarmaction.New(acfg, deps); err != nil {
		t.Fatal(err)
	}
	lh := lambda.NewHandler(e.h.Handle)
	e.deliver = func(ev json.RawMessage) {
		var lastErr error
		for attempt := 0; attempt < 5; attempt++ {
			if _, lastErr = lh.Invoke(ctx, ev); lastErr == nil {
				return
			}
		}
		t.Errorf("invocation still failing after 5 attempts: %v", lastErr)
	}
	e.inverted = func() bool {
		out, err := r53.GetHealthCheck(ctx, &route53.GetHealthCheckInput{HealthCheckId: aws.String(e.hcID)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToBool(out.HealthCheck.HealthCheckConfig.Inverted)
	}
	return e
}
