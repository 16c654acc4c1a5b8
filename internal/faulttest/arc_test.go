package faulttest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/homeregion/homeregion/internal/arclocal"
	"github.com/homeregion/homeregion/internal/faultproxy"
	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/shared/alarm"
	"github.com/homeregion/homeregion/shared/alarmaction"
	"github.com/homeregion/homeregion/shared/awsclient/arcops"
	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/logging"
)

// functionTimeout is the failover function's Timeout in template.yaml.
const functionTimeout = 15 * time.Second

// TestARCSwitchNeverSplitsNorFlaps runs the failover action with
// SWITCH=arc against a fake ARC cluster (internal/arclocal) whose three
// endpoints each sit behind a fault proxy. Throttled, failing (5xx) and
// black-holed endpoints are passed over for the next one; while every
// endpoint fails, the ALARM's retries, an OK, the alarm firing again and
// the reconcile ticks end within the function timeout and change nothing at
// the switch, yet keep the failover intended; once one endpoint answers, the
// reconcile sets it; the fail-back waits for the hold-down. The routing
// control only ever goes On -> Off -> On, and the partner's routing control
// never moves.
func TestARCSwitchNeverSplitsNorFlaps(t *testing.T) {
	srv := mototest.Require(t)
	ddb := dynamodb.NewFromConfig(srv.Config(region))
	table := unique("control")
	mototest.CreateTable(t, ddb, "ControlTable", table)

	const (
		panel   = "arn:aws:route53-recovery-control::000000000000:controlpanel/homeregion"
		west    = panel + "/routingcontrol/eu-west-1"
		central = panel + "/routingcontrol/eu-central-1"
	)
	cluster := arclocal.New()
	cluster.AddRoutingControl(west, "eu-west-1", panel, arclocal.On)
	cluster.AddRoutingControl(central, "eu-central-1", panel, arclocal.On)
	cluster.AddAssertionRule(arclocal.AssertionRule{ARN: panel + "/safetyrule/one-region-on", Controls: []string{west, central}, AtLeast: 1})
	regions := []string{"us-east-1", "us-west-2", "eu-west-1"}
	proxies := map[string]*faultproxy.Proxy{}
	var endpoints []alarmaction.ArcEndpoint
	for _, r := range regions {
		ep, err := cluster.Start(r)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ep.Close() })
		p, err := faultproxy.Start(strings.TrimSuffix(ep.URL, "/v1"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		proxies[r] = p
		endpoints = append(endpoints, alarmaction.ArcEndpoint{Region: r, URL: p.URL() + "/v1"})
	}

	awscfg, err := awsconfig.Load(context.Background(), region, os.Getenv, awsconfig.Options{MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)}
	acfg := alarmaction.Config{Action: alarmaction.ActionFailover, Region: region, ControlTable: table,
		Switch: alarmaction.SwitchARC, RoutingControlARN: west, ArcEndpoints: endpoints,
		SecondaryRegion: "eu-central-1", Failback: alarmaction.FailbackAuto, HoldDown: 10 * time.Minute}
	deps := alarmaction.FromClients(acfg, alarmaction.Clients{DynamoDB: ddb, ARC: arcops.New(awscfg)})
	deps.Now, deps.Logger = c.Now, logging.Discard()
	h, err := alarmaction.New(acfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	lh := lambda.NewHandler(h.Handle)
	// invoke is one Lambda invocation with the function's timeout.
	invoke := func(ev json.RawMessage) error {
		ctx, cancel := context.WithTimeout(context.Background(), functionTimeout)
		defer cancel()
		start := time.Now()
		_, err := lh.Invoke(ctx, ev)
		if d := time.Since(start); d >= functionTimeout {
			t.Errorf("an invocation took %s, beyond the function timeout %s", d, functionTimeout)
		}
		return err
	}
	tick := json.RawMessage(`{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`)
	alarmArn := "arn:aws:cloudwatch:eu-west-1:000000000000:alarm:" + unique("primary")
	fault := func(r string, f faultproxy.Fault) { proxies[r].Add("ToggleCustomerAPI.*", f) }
	clear := func() {
		for _, p := range proxies {
			p.Clear()
		}
	}
	sequence := func() string { return fmt.Sprint(cluster.Sequence(west)) }

	// 1. The first endpoint throttles, the second answers 500: the third one fails over.
	fault("us-east-1", faultproxy.Fault{Kind: faultproxy.Throttle})
	fault("us-west-2", faultproxy.Fault{Kind: faultproxy.Status, Code: 500})
	if err := invoke(alarmEvent(alarmArn, alarm.StateOK, alarm.StateAlarm, c.Now())); err != nil {
		t.Fatalf("ALARM with one endpoint up: %v", err)
	}
	if got := sequence(); got != "[On Off]" {
		t.Fatalf("routing control went %s, want [On Off]", got)
	}
	if ch := cluster.Changes(); ch[0].Endpoint != "eu-west-1" {
		t.Fatalf("changed through %q, want the third endpoint", ch[0].Endpoint)
	}

	// 2. The alarm clears after the hold-down: back On. Then it fires again
	// while every endpoint fails: one black hole, one throttling, one 5xx.
	// The delivery, Lambda's two retries, an OK, the alarm again and a tick
	// all fail within the timeout and move nothing; the failover stays
	// intended (an OK seen with the switch readable would cancel it).
	clear()
	c.advance(11 * time.Minute)
	if err := invoke(alarmEvent(alarmArn, alarm.StateAlarm, alarm.StateOK, c.Now())); err != nil {
		t.Fatalf("OK past the hold-down: %v", err)
	}
	if got := sequence(); got != "[On Off On]" {
		t.Fatalf("routing control went %s, want [On Off On]", got)
	}
	fault("us-east-1", faultproxy.Fault{Kind: faultproxy.BlackHole})
	fault("us-west-2", faultproxy.Fault{Kind: faultproxy.Throttle})
	fault("eu-west-1", faultproxy.Fault{Kind: faultproxy.Status, Code: 503, ErrorCode: "EndpointTemporarilyUnavailableException"})
	c.advance(time.Hour)
	ev := alarmEvent(alarmArn, alarm.StateOK, alarm.StateAlarm, c.Now())
	for range 3 { // the delivery and Lambda's two asynchronous retries
		if err := invoke(ev); err == nil {
			t.Fatal("ALARM with every endpoint failing: no error")
		}
		c.advance(time.Minute)
	}
	if err := invoke(alarmEvent(alarmArn, alarm.StateAlarm, alarm.StateOK, c.Now())); err == nil {
		t.Fatal("OK with every endpoint failing: no error")
	}
	c.advance(time.Minute)
	if err := invoke(alarmEvent(alarmArn, alarm.StateOK, alarm.StateAlarm, c.Now())); err == nil {
		t.Fatal("ALARM again with every endpoint failing: no error")
	}
	c.advance(time.Minute)
	if err := invoke(tick); err == nil {
		t.Fatal("tick with every endpoint failing: no error")
	}
	if got := sequence(); got != "[On Off On]" || cluster.State(west) != arclocal.On {
		t.Fatalf("routing control went %s during the outage, want no change", got)
	}

	// 3. One endpoint recovers (the black hole stays): the next tick sets Off.
	proxies["us-west-2"].Clear()
	c.advance(time.Minute)
	if err := invoke(tick); err != nil {
		t.Fatalf("tick with one endpoint back: %v", err)
	}
	if cluster.State(west) != arclocal.Off {
		t.Fatal("the reconcile did not converge to the intended Off once an endpoint answered")
	}

	// 4. The alarm clears inside the hold-down (counted from the move):
	// the OK and the ticks hold; after it, back On.
	c.advance(30 * time.Second)
	if err := invoke(alarmEvent(alarmArn, alarm.StateAlarm, alarm.StateOK, c.Now())); err != nil {
		t.Fatalf("OK in the hold-down: %v", err)
	}
	for range 3 {
		c.advance(3 * time.Minute)
		if err := invoke(tick); err != nil {
			t.Fatalf("tick in the hold-down: %v", err)
		}
		if cluster.State(west) != arclocal.Off {
			t.Fatal("failed back inside the hold-down")
		}
	}
	c.advance(time.Minute)
	if err := invoke(tick); err != nil {
		t.Fatalf("tick past the hold-down: %v", err)
	}
	if got, want := cluster.Sequence(west), []arclocal.State{"On", "Off", "On", "Off", "On"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("routing control went %v, want %v (each failover On -> Off -> On, never flapping)", got, want)
	}
	if got := cluster.Sequence(central); !reflect.DeepEqual(got, []arclocal.State{"On"}) {
		t.Fatalf("the partner's routing control went %v", got)
	}
}
