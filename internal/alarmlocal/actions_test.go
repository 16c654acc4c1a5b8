package alarmlocal

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/shared/alarmaction"
)

// The emulator's payloads drive the real alarm functions (shared/alarmaction)
// in-process through lambda.NewHandler: a backlog scales the primary site
// out, a stalled-site alarm set by hand promotes the standby.
func TestEmulatorDrivesAlarmActions(t *testing.T) {
	srv := mototest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	defs, err := provision.LoadFiles("../provision/testdata/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := provision.Apply(ctx, defs, provision.Options{Endpoint: srv.URL, Regions: []string{"eu-west-1"}, StackName: "actions"})
	if err != nil {
		t.Fatal(err)
	}
	r := st.Region("eu-west-1")
	cfg := srv.Config("eu-west-1")
	ecsc, ddb, q := ecs.NewFromConfig(cfg), dynamodb.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	invokers := map[string]Invoker{}
	for _, action := range []string{"scale", "promote"} {
		f, ok := r.FunctionByAction(action)
		if !ok {
			t.Fatalf("no %s function", action)
		}
		e := f.Env
		c := alarmaction.Config{Action: alarmaction.Action(action), Region: r.Region, ControlTable: e["CONTROL_TABLE"],
			StandbyCluster: e["STANDBY_ECS_CLUSTER"], StandbyService: e["STANDBY_ECS_SERVICE"], StandbyTasks: atoi(e["STANDBY_TASKS"]),
			QueueURL: e["QUEUE_URL"], Cluster: e["ECS_CLUSTER"], Service: e["ECS_SERVICE"],
			BacklogPerTask: atoi(e["BACKLOG_PER_TASK"]), MinTasks: atoi(e["MIN_TASKS"]), MaxTasks: atoi(e["MAX_TASKS"])}
		h, err := alarmaction.New(c, alarmaction.FromClients(c, alarmaction.Clients{DynamoDB: ddb, ECS: ecsc, SQS: q}))
		if err != nil {
			t.Fatalf("%s handler: %v", action, err)
		}
		invokers[action] = FromLambda(lambda.NewHandler(h.Handle).Invoke)
	}
	var failed []error
	em, err := New(Options{Logger: quiet, Region: r, CloudWatch: cloudwatch.NewFromConfig(cfg, provision.CloudWatchQueryProtocol), SQS: q,
		Period: 100 * time.Millisecond, Invokers: invokers, OnEvent: func(e Event) {
			if e.Err != nil {
				failed = append(failed, e.Err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	desired := func(cluster, service string) int32 {
		out, err := ecsc.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{service}})
		if err != nil || len(out.Services) != 1 {
			t.Fatalf("describe %s: %v", service, err)
		}
		return out.Services[0].DesiredCount
	}
	if err := em.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // 30 visible; 10 per task -> 3 tasks (MAX 4)
		var batch []sqstypes.SendMessageBatchRequestEntry
		for j := 0; j < 10; j++ {
			batch = append(batch, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(j)), MessageBody: aws.String("{}")})
		}
		if _, err := q.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(r.OrdersQueueURL), Entries: batch}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		if err := em.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := desired(r.EcsCluster, r.PrimaryService); n != 3 {
		t.Errorf("primary desired %d after a backlog of 30, want 3 (errors: %v)", n, failed)
	}
	cw := cloudwatch.NewFromConfig(cfg, provision.CloudWatchQueryProtocol)
	stalled, _ := r.Alarm("StalledSiteAlarm")
	if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(stalled.Name), StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("test")}); err != nil {
		t.Fatal(err)
	}
	if err := em.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if n := desired(r.StandbyCluster, r.StandbyService); n != 2 {
		t.Errorf("standby desired %d after the stalled-site alarm, want STANDBY_TASKS 2 (errors: %v)", n, failed)
	}
	if len(failed) > 0 {
		t.Errorf("deliveries failed: %v", failed)
	}
}
